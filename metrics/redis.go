package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Pooler is what the Redis pool collector reads; every go-redis client
// (single, cluster, failover, universal) has it.
type Pooler interface {
	PoolStats() *redis.PoolStats
}

// AddRedisPool registers a collector that reads the client's connection
// pool statistics at scrape time (go-redis keeps them in memory: no Redis
// call). go-redis's own Prometheus collector lives in a module of its own
// (extra/redisprometheus) and names its series after its own namespace;
// these few lines keep ours under checkout_redis_pool_*.
func (m *Metrics) AddRedisPool(p Pooler) {
	m.reg.MustRegister(&poolCollector{p: p, descs: poolDescs()})
}

type poolDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*redis.PoolStats) float64
}

func poolDescs() []poolDesc {
	d := func(name, help string, kind prometheus.ValueType, v func(*redis.PoolStats) float64) poolDesc {
		return poolDesc{prometheus.NewDesc(NameRedisPool+"_"+name, help, nil, nil), kind, v}
	}
	c, g := prometheus.CounterValue, prometheus.GaugeValue
	return []poolDesc{
		d("hits_total", "Times a free connection was found in the pool.", c, func(s *redis.PoolStats) float64 { return float64(s.Hits) }),
		d("misses_total", "Times no free connection was found in the pool.", c, func(s *redis.PoolStats) float64 { return float64(s.Misses) }),
		d("timeouts_total", "Times a wait for a connection timed out.", c, func(s *redis.PoolStats) float64 { return float64(s.Timeouts) }),
		d("waits_total", "Times a request waited for a connection.", c, func(s *redis.PoolStats) float64 { return float64(s.WaitCount) }),
		d("wait_seconds_total", "Time spent waiting for a connection.", c, func(s *redis.PoolStats) float64 { return float64(s.WaitDurationNs) / 1e9 }),
		d("connections", "Connections in the pool.", g, func(s *redis.PoolStats) float64 { return float64(s.TotalConns) }),
		d("idle_connections", "Idle connections in the pool.", g, func(s *redis.PoolStats) float64 { return float64(s.IdleConns) }),
		d("stale_connections_total", "Stale connections removed from the pool.", c, func(s *redis.PoolStats) float64 { return float64(s.StaleConns) }),
		d("pending_requests", "Requests waiting for a connection now.", g, func(s *redis.PoolStats) float64 { return float64(s.PendingRequests) }),
	}
}

type poolCollector struct {
	p     Pooler
	descs []poolDesc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.PoolStats()
	if s == nil {
		return
	}
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(s))
	}
}

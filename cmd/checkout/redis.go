package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/config"
)

const (
	// pingTimeout bounds the start-up check of a configured Redis.
	pingTimeout = 5 * time.Second
	// embeddedTick is how often the embedded Redis's clock is advanced:
	// miniredis keeps time only when told, and without this sessions and
	// locks would never expire.
	embeddedTick = time.Second
)

// openRedis connects to the configured Redis, or starts an in-process one
// when none is configured. A configured Redis that does not answer is an
// error: production never falls back to memory silently.
func openRedis(ctx context.Context, s *config.Settings, log *slog.Logger) (redis.UniversalClient, func(), error) {
	redisLog.log.Store(log)
	if s.Redis != nil {
		rdb := s.Redis.NewClient()
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		if err := pingTopology(pctx, rdb); err != nil {
			_ = rdb.Close()
			// Name the topology and its addresses, never the URL: it may
			// hold passwords, and so may an error that quotes it.
			return nil, nil, fmt.Errorf("REDIS_URL (REDIS_MODE=%s) is set but the Redis %s does not answer: %s (the service does not fall back to an in-memory Redis when REDIS_URL is set)",
				s.Redis.Mode, s.Redis.Describe(), config.RedactRedisText(oneLine(err.Error()), s.RedisURL.Reveal()))
		}
		log.Info("Connected to Redis", "redis_mode", string(s.Redis.Mode), "redis", s.Redis.Describe())
		return rdb, func() { _ = rdb.Close() }, nil
	}

	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("start the in-process Redis: %w", err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(embeddedTick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.FastForward(embeddedTick)
			case <-stop:
				return
			}
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	log.Warn("REDIS_URL is not set: using an IN-PROCESS Redis. All data is in memory and LOST when the process stops; run only one replica like this. Set REDIS_URL for anything but a demo.", "redis_addr", m.Addr())
	return rdb, func() {
		_ = rdb.Close()
		close(stop)
		<-done
		m.Close()
	}, nil
}

// pingTopology checks that the topology answers: a single server or the
// Sentinels' primary answers PING; on a Cluster every primary must answer
// and the cluster must say its state is ok (all slots served).
func pingTopology(ctx context.Context, rdb redis.UniversalClient) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Ping(ctx).Err()
	}
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("CLUSTER INFO does not say cluster_state:ok")
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Ping(ctx).Err()
	})
}

// oneLine keeps an error's text on one line, as the start-up error is.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// redisLogger sends go-redis's own messages (connection pool dial failures)
// to the service's structured log instead of the standard logger.
type redisLogger struct{ log atomic.Pointer[slog.Logger] }

// redisLog is installed by main with redis.SetLogger, a process-wide
// setting; serve points it at its logger.
var redisLog redisLogger

// Printf implements go-redis's internal.Logging.
func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l := r.log.Load()
	if l == nil {
		l = slog.Default()
	}
	l.WarnContext(ctx, "Redis client", "message", fmt.Sprintf(format, v...))
}

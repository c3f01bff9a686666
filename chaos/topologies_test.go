package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The replicas drive on a Redis Cluster and on a Sentinel-managed primary.
// They start their own Redis processes, from the same redis-server binary
// (a Sentinel is redis-server --sentinel; redis-cli creates the Cluster),
// so they need no environment, and they never share a topology with other
// tests: the service's queues and claims have fixed key names (no prefix),
// so any other copy of the service on the same Redis works the same
// queues. In CI's first runs the Cluster drive used REDIS_CLUSTER_URL's
// Cluster while cmd/checkout's TestDemoModeOnTopologies started the demo
// service there: its webhook poller claimed the drive's due deliveries
// and, not knowing the drive's merchant, settled them as not_sent, so a
// dozen events were emitted and never sent (the webhook package now
// leaves an unknown merchant's deliveries to a replica that knows it, but
// a process of another deployment would still take the expiry and
// reconciler work). The Sentinel drive's forced failover would disturb the
// tests using the shared set (REDIS_SENTINEL_URL) as much.

// needTopologies is needReal plus a binary with REDIS_MODE: the drives
// fail, rather than skip, on a binary without it.
func needTopologies(t *testing.T) (redisBin string) {
	t.Helper()
	redisBin = needReal(t)
	if !supportsRedisMode(t, checkoutBinary(t)) {
		t.Fatal("the binary has no REDIS_MODE: nothing to drive on a Cluster or Sentinel")
	}
	return redisBin
}

// supportsRedisMode reports whether the binary knows REDIS_MODE: its -h
// names every setting's environment variable.
func supportsRedisMode(t *testing.T, bin string) bool {
	t.Helper()
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	return strings.Contains(string(out), "REDIS_MODE")
}

// TestReplicasCluster runs the drive with REDIS_MODE=cluster on a
// 3-primary Cluster of its own.
func TestReplicasCluster(t *testing.T) {
	t.Parallel()
	redisBin := needTopologies(t)
	runReplicas(t, topology{name: "a 3-primary Redis Cluster", mode: "cluster", url: startCluster(t, redisBin)}, replicasOptions(seedOf(t)))
}

// TestReplicasSentinel runs the drive with REDIS_MODE=sentinel on a
// primary, a replica and a Sentinel of its own, and forces a failover
// (SENTINEL FAILOVER) two thirds into the traffic.
func TestReplicasSentinel(t *testing.T) {
	t.Parallel()
	redisBin := needTopologies(t)
	runReplicas(t, startSentinelSet(t, redisBin), replicasOptions(seedOf(t)))
}

// redisNode starts a redis-server in a directory of its own with args
// and waits until it answers PING. Retried on a new port: a free port
// may be taken meanwhile.
func redisNode(t *testing.T, name, redisBin, logDir string, args func(port int, dir string) []string) (int, *proc) {
	t.Helper()
	dir, err := os.MkdirTemp("", "chaos-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	live.addDir(dir)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var lastErr error
	for try := 0; try < 10; try++ {
		port := freePort(t)
		p := startProc(t, name, filepath.Join(logDir, name+".log"), nil, redisBin, args(port, dir), os.Environ())
		if lastErr = waitPing(p, port); lastErr == nil {
			return port, p
		}
		p.kill()
	}
	t.Fatalf("%s did not start: %v (see %s)", name, lastErr, logDir)
	return 0, nil
}

func waitPing(p *proc, port int) error {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && p.running(); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
	}
	if err == nil {
		err = fmt.Errorf("exited: %v", p.err)
	}
	return err
}

// waitUntil polls cond every 100 ms for up to within.
func waitUntil(within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("not within %s", within)
			}
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// infoField reads one field of INFO section from the server at port.
func infoField(port int, section, field string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

// startCluster starts three primaries with cluster mode on, joins them
// with redis-cli --cluster create and returns the go-redis cluster URL
// (ParseClusterURL's syntax) naming all three.
func startCluster(t *testing.T, redisBin string) string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatal("REDIS_REQUIRED=1 but no redis-cli to create a Cluster with (Debian's redis-tools)")
		}
		t.Skip("no redis-cli on PATH to create a Cluster with")
	}
	logDir := logDirFor(t, 0)
	var ports []int
	for i := 1; i <= 3; i++ {
		port, _ := redisNode(t, fmt.Sprintf("cluster-%d", i), redisBin, logDir, func(port int, dir string) []string {
			return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000", "--appendonly", "yes", "--save", "", "--daemonize", "no"}
		})
		ports = append(ports, port)
	}
	args := []string{"--cluster", "create"}
	for _, p := range ports {
		args = append(args, "127.0.0.1:"+strconv.Itoa(p))
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, p := range ports {
		err := waitUntil(60*time.Second, func() (bool, error) {
			v, err := infoClusterState(p)
			return v == "ok", err
		})
		if err != nil {
			t.Fatalf("cluster node %d never reached cluster_state:ok: %v", p, err)
		}
	}
	return fmt.Sprintf("redis://127.0.0.1:%d?addr=127.0.0.1:%d&addr=127.0.0.1:%d", ports[0], ports[1], ports[2])
}

func infoClusterState(port int) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("CLUSTER INFO has no cluster_state")
}

// sentinelMaster is the name the Sentinel monitors the primary under.
const sentinelMaster = "checkout"

// startSentinelSet starts a primary, a replica of it and one Sentinel
// (quorum 1) monitoring them, and returns the topology with its go-redis
// failover URL (ParseFailoverURL's syntax: the Sentinel's address and
// master_name) and a failover that asks the Sentinel for SENTINEL FAILOVER
// and waits until the replica is the primary.
func startSentinelSet(t *testing.T, redisBin string) topology {
	t.Helper()
	logDir := logDirFor(t, 1)
	// Both nodes refuse writes while no replica follows them (Redis
	// replicates asynchronously): from the moment the Sentinel promotes
	// the replica, the old primary answers writes with NOREPLICAS (the
	// service's 503) instead of taking writes the failover would lose
	// when it turns the old primary into a replica and resyncs it. This is
	// the setting docs/scale-out.md asks of a Sentinel deployment.
	node := func(extra ...string) func(port int, dir string) []string {
		return func(port int, dir string) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--appendonly", "yes", "--save", "", "--daemonize", "no",
				"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"}, extra...)
		}
	}
	pPort, _ := redisNode(t, "sentinel-primary", redisBin, logDir, node())
	rPort, _ := redisNode(t, "sentinel-replica", redisBin, logDir, node("--replicaof", "127.0.0.1", strconv.Itoa(pPort)))
	if err := waitUntil(60*time.Second, func() (bool, error) {
		v, err := infoField(rPort, "replication", "master_link_status")
		return v == "up", err
	}); err != nil {
		t.Fatalf("the replica never synced with the primary: %v", err)
	}
	sPort, _ := redisNode(t, "sentinel", redisBin, logDir, func(port int, dir string) []string {
		conf := filepath.Join(dir, "sentinel.conf")
		// The Sentinel rewrites its file as it learns: it must be its own.
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n"+
			"sentinel down-after-milliseconds %[3]s 3000\nsentinel failover-timeout %[3]s 20000\n", port, dir, sentinelMaster, pPort)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel"}
	})
	sentinel := func() *redis.SentinelClient {
		return redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sPort), DialTimeout: time.Second})
	}
	// A failover needs the Sentinel to know the replica.
	if err := waitUntil(60*time.Second, func() (bool, error) {
		sc := sentinel()
		defer sc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		reps, err := sc.Replicas(ctx, sentinelMaster).Result()
		return len(reps) > 0, err
	}); err != nil {
		t.Fatalf("the Sentinel never learnt of the replica: %v", err)
	}
	masterPort := func() (int, error) {
		sc := sentinel()
		defer sc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		addr, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		if err != nil || len(addr) != 2 {
			return 0, fmt.Errorf("get-master-addr-by-name: %v %v", addr, err)
		}
		return strconv.Atoi(addr[1])
	}
	return topology{
		name: "a Sentinel-managed primary and replica",
		mode: "sentinel",
		url:  fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=%s", sPort, sentinelMaster),
		failover: func() error {
			sc := sentinel()
			defer sc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := sc.Failover(ctx, sentinelMaster).Err()
			cancel()
			if err != nil {
				return fmt.Errorf("SENTINEL FAILOVER: %w", err)
			}
			// Done when the Sentinel names the replica primary and it
			// says so itself.
			return waitUntil(60*time.Second, func() (bool, error) {
				p, err := masterPort()
				if err != nil || p != rPort {
					return false, err
				}
				role, err := infoField(rPort, "replication", "role")
				return role == "master", err
			})
		},
	}
}

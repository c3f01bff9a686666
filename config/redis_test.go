package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestParseRedis reads REDIS_URL for each REDIS_MODE with go-redis's own
// parser and checks what each topology's client would get.
func TestParseRedis(t *testing.T) {
	tests := []struct {
		name, mode, url string
		check           func(t *testing.T, r *RedisTopology)
	}{
		{"single default mode", "", "redis://:pw@10.0.0.5:6380/3", func(t *testing.T, r *RedisTopology) {
			if r.Mode != RedisSingle || r.Single.Addr != "10.0.0.5:6380" || r.Single.DB != 3 || r.Single.Password != "pw" || r.Single.TLSConfig != nil {
				t.Errorf("%+v", r.Single)
			}
		}},
		{"single tls", "single", "rediss://u:pw@redis.example:6380", func(t *testing.T, r *RedisTopology) {
			if r.Single.TLSConfig == nil || r.Single.Username != "u" {
				t.Errorf("want TLS and user u: %+v", r.Single)
			}
		}},
		{"cluster three seeds", "cluster", "redis://:pw@127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003", func(t *testing.T, r *RedisTopology) {
			if r.Mode != RedisCluster || strings.Join(r.Cluster.Addrs, ",") != "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003" || r.Cluster.Password != "pw" || r.Cluster.TLSConfig != nil {
				t.Errorf("%+v", r.Cluster)
			}
		}},
		{"cluster tls upper-case mode", " CLUSTER ", "rediss://node1.example:7001?addr=node2.example:7001", func(t *testing.T, r *RedisTopology) {
			if r.Cluster.TLSConfig == nil || len(r.Cluster.Addrs) != 2 {
				t.Errorf("%+v", r.Cluster)
			}
		}},
		{"sentinel", "sentinel", "redis://suser:spw@127.0.0.1:26379?addr=127.0.0.1:26380&master_name=checkout&password=redispw", func(t *testing.T, r *RedisTopology) {
			f := r.Failover
			if r.Mode != RedisSentinel || f.MasterName != "checkout" || f.SentinelUsername != "suser" || f.SentinelPassword != "spw" || f.Password != "redispw" ||
				strings.Join(f.SentinelAddrs, ",") != "127.0.0.1:26379,127.0.0.1:26380" || f.TLSConfig != nil {
				t.Errorf("%+v", f)
			}
		}},
		{"sentinel tls db", "sentinel", "rediss://127.0.0.1:26379/2?master_name=checkout", func(t *testing.T, r *RedisTopology) {
			if r.Failover.TLSConfig == nil || r.Failover.DB != 2 {
				t.Errorf("%+v", r.Failover)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRedis(tc.mode, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
			var logged strings.Builder
			slog.New(slog.NewTextHandler(&logged, nil)).Info("redis", "redis", r)
			if out := fmt.Sprintf("%s %v %+v %#v", r.Describe(), r, r, r) + logged.String(); strings.Contains(out, "pw") {
				t.Errorf("printing the topology shows a password: %s", out)
			}
			c := r.NewClient()
			_ = c.Close()
		})
	}
}

// TestParseRedisRefuses: every bad combination stops the start with one
// line naming the setting, and no password of the URL is in it.
func TestParseRedisRefuses(t *testing.T) {
	tests := []struct {
		name, mode, url, want string
	}{
		{"unknown mode", "replicated", "redis://:S3cretPw@h:6379", "config: REDIS_MODE: \"replicated\" is not one of single, cluster, sentinel"},
		{"cluster without url", "cluster", "", "config: REDIS_URL: required when REDIS_MODE is cluster"},
		{"sentinel without url", "sentinel", "", "config: REDIS_URL: required when REDIS_MODE is sentinel"},
		{"single bad scheme", "single", "http://:S3cretPw@localhost:6379", "config: REDIS_URL: not a Redis URL for REDIS_MODE=single"},
		{"single bad db", "", "redis://:S3cretPw@localhost:6379/notadb", "config: REDIS_URL: not a Redis URL for REDIS_MODE=single"},
		{"single unparsable", "", "redis://:S3cretPw@local host:6379", "config: REDIS_URL: not a Redis URL"},
		{"cluster bad addr", "cluster", "redis://:S3cretPw@h:7001?addr=nohostport", "config: REDIS_URL: not a Redis URL for REDIS_MODE=cluster"},
		{"cluster db", "cluster", "redis://:S3cretPw@h:7001/2", "a Redis Cluster has only database 0"},
		{"cluster unknown option", "cluster", "redis://:S3cretPw@h:7001?pasword=S3cretPw", "config: REDIS_URL: not a Redis URL for REDIS_MODE=cluster"},
		{"sentinel no master", "sentinel", "redis://u:S3cretPw@h:26379?password=S3cretPw", "master_name is missing"},
		{"sentinel password param refused", "sentinel", "redis://h:26379?master_name=m&sentinel_password=S3cretPw", "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel"},
		{"sentinel bad scheme", "sentinel", "tcp://u:S3cretPw@h:26379?master_name=m", "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel"},
		{"escaped password", "single", "redis://:S3cret%2FPw@h:6379/x", "config: REDIS_URL: not a Redis URL"},
		// Passwords pasted without percent-encoding: the URL parser's
		// error quotes the URL, cut where the password's character ends
		// the user part, so neither half may be printed.
		{"password with #", "single", "redis://:S3cret#Tail9@h:6379", "config: REDIS_URL: not a Redis URL"},
		{"password with /", "single", "redis://:S3cret/Tail9@h:6379", "config: REDIS_URL: not a Redis URL"},
		{"password with ?", "single", "redis://:S3cret?Tail9@h:6379", "config: REDIS_URL: not a Redis URL"},
		{"password with space", "single", "redis://:S3cret Tail9@h:6379", "config: REDIS_URL: not a Redis URL"},
		{"password with @", "single", "redis://:S3cret@Tail9@bad host:6379", "config: REDIS_URL: not a Redis URL"},
		{"user part without colon", "single", "redis://S3cret/Tail9@h:6379", "config: REDIS_URL: not a Redis URL"},
		{"cluster password with #", "cluster", "redis://u:S3cret#Tail9@h:7001?addr=h2:7002", "config: REDIS_URL: not a Redis URL for REDIS_MODE=cluster"},
		{"sentinel password with /", "sentinel", "rediss://u:S3cret/Tail9@h:26379?master_name=m", "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel"},
		{"query password with &", "cluster", "redis://h:7001?addr=h2:7002&password=S3cret&Tail9", "config: REDIS_URL: not a Redis URL for REDIS_MODE=cluster"},
		{"query password with & then =", "sentinel", "redis://h:26379?master_name=m&password=S3cret&Tail9=x", "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel"},
		{"query password with space", "sentinel", "redis://h:26379?master_name=m&password=S3cret Tail9&addr=bad host", "config: REDIS_URL: not a Redis URL for REDIS_MODE=sentinel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRedis(tc.mode, tc.url)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want a *config.Error, got %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if strings.Contains(msg, "S3cret") || strings.Contains(msg, "Tail9") || strings.Contains(msg, "\n") {
				t.Errorf("error is not one line without the password: %q", msg)
			}
		})
	}
}

// TestRedactRedisURL hides the user part's password and the password
// query parameters, also in text that is not a URL.
func TestRedactRedisURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://:pw@h:6379/0", "redis://:xxxxx@h:6379/0"},
		{"redis://user:pw@h:6379", "redis://user:xxxxx@h:6379"},
		{"rediss://barepw@h:6379", "rediss://xxxxx@h:6379"},
		{"redis://h:26379?master_name=m&password=pw&addr=h2:1", "redis://h:26379?master_name=m&password=xxxxx&addr=h2:1"},
		{"redis://u:spw@h:26379?sentinel_password=spw&PASSWORD=pw", "redis://u:xxxxx@h:26379?sentinel_password=xxxxx&PASSWORD=xxxxx"},
		{`parse "redis://:pw@bad host": invalid character " " in host name`, `parse "redis://:xxxxx@bad host": invalid character " " in host name`},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"no url here", "no url here"},
	}
	for _, tc := range tests {
		if got := RedactRedisURL(tc.in); got != tc.want {
			t.Errorf("RedactRedisURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// An error that quotes a password on its own loses it too.
	if got := RedactRedisText("dial: password S3cret rejected", "redis://h:1?master_name=m&password=S3cret"); strings.Contains(got, "S3cret") {
		t.Errorf("password left in %q", got)
	}
}

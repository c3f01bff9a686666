package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisMode is the Redis topology REDIS_MODE selects.
type RedisMode string

// The topologies: one server (the default), a Redis Cluster, or a primary
// with replicas managed by Sentinels.
const (
	RedisSingle   RedisMode = "single"
	RedisCluster  RedisMode = "cluster"
	RedisSentinel RedisMode = "sentinel"
)

// RedisTopology is REDIS_URL parsed for REDIS_MODE, with go-redis's own URL
// parser for each mode. Exactly one of Single, Cluster and Failover is set.
// It holds passwords: print Describe, never the options.
type RedisTopology struct {
	Mode     RedisMode
	Single   *redis.Options
	Cluster  *redis.ClusterOptions
	Failover *redis.FailoverOptions
}

// ParseRedis reads raw (REDIS_URL) in go-redis's syntax for mode
// (REDIS_MODE; empty means single): redis.ParseURL, ParseClusterURL or
// ParseFailoverURL. rediss:// turns TLS on in every mode. Errors name the
// setting and never carry the URL's passwords.
func ParseRedis(mode, raw string) (*RedisTopology, error) {
	m := RedisMode(strings.ToLower(strings.TrimSpace(mode)))
	if m == "" {
		m = RedisSingle
	}
	var want string
	switch m {
	case RedisSingle:
		want = "redis://[user:password@]host:port/db or rediss://…"
	case RedisCluster:
		want = "redis://[user:password@]host:port?addr=host2:port2&addr=host3:port3 or rediss://…"
	case RedisSentinel:
		want = "redis://[sentinel-user:sentinel-password@]sentinel:26379?addr=sentinel2:26379&master_name=NAME&password=REDIS-PASSWORD or rediss://…"
	default:
		return nil, errorf("REDIS_MODE", "%q is not one of single, cluster, sentinel", mode)
	}
	if raw == "" {
		if m != RedisSingle {
			return nil, errorf("REDIS_URL", "required when REDIS_MODE is %s", m)
		}
		return nil, nil
	}
	bad := func(err error) error {
		return errorf("REDIS_URL", "not a Redis URL for REDIS_MODE=%s (want %s): %s", m, want, parseDetail(err, raw))
	}
	t := &RedisTopology{Mode: m}
	var err error
	switch m {
	case RedisSingle:
		t.Single, err = redis.ParseURL(raw)
	case RedisCluster:
		t.Cluster, err = redis.ParseClusterURL(raw)
		if err == nil {
			if u, _ := url.Parse(raw); u != nil && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
				// A Cluster has only database 0; go-redis ignores the path.
				err = fmt.Errorf("a Redis Cluster has only database 0, the URL names %q", strings.Trim(u.Path, "/"))
			}
		}
	case RedisSentinel:
		t.Failover, err = redis.ParseFailoverURL(raw)
		if err == nil && t.Failover.MasterName == "" {
			err = fmt.Errorf("master_name is missing (the name the Sentinels know the primary by)")
		}
	}
	if err != nil {
		return nil, bad(err)
	}
	return t, nil
}

// NewClient builds go-redis's client for the topology: a Client, a
// ClusterClient (which routes each command to its slot's node) or a
// failover Client (which asks the Sentinels for the primary).
func (t *RedisTopology) NewClient() redis.UniversalClient {
	switch {
	case t.Cluster != nil:
		return redis.NewClusterClient(t.Cluster)
	case t.Failover != nil:
		return redis.NewFailoverClient(t.Failover)
	default:
		return redis.NewClient(t.Single)
	}
}

// Describe names the topology and its addresses, without any password: for
// logs and start-up errors.
func (t *RedisTopology) Describe() string {
	switch {
	case t.Cluster != nil:
		return fmt.Sprintf("cluster seeds %s%s", strings.Join(t.Cluster.Addrs, ","), tlsNote(t.Cluster.TLSConfig != nil))
	case t.Failover != nil:
		return fmt.Sprintf("sentinel master %q via %s db %d%s", t.Failover.MasterName, strings.Join(t.Failover.SentinelAddrs, ","), t.Failover.DB, tlsNote(t.Failover.TLSConfig != nil))
	default:
		return fmt.Sprintf("single %s db %d%s", t.Single.Addr, t.Single.DB, tlsNote(t.Single.TLSConfig != nil))
	}
}

// String, GoString and LogValue describe the topology without its
// passwords, so that printing or logging it never shows them.
func (t *RedisTopology) String() string { return t.Describe() }

// GoString is String, for %#v.
func (t *RedisTopology) GoString() string { return t.Describe() }

// LogValue is String, for slog.
func (t *RedisTopology) LogValue() slog.Value { return slog.StringValue(t.Describe()) }

func tlsNote(on bool) string {
	if on {
		return " (TLS)"
	}
	return ""
}

// parseDetail is what a refused REDIS_URL's message says of err. The
// parsers' errors quote pieces of the URL, and where a password holds a
// character that ends it early (@ / ? # & or a space, not
// percent-encoded) no redaction can know which pieces are the password:
// the URL parser cuts the user part at the first / ? or #, and go-redis
// names the rest of a query password cut at & as an unexpected option. Those
// errors give a fixed hint instead of their text.
func parseDetail(err error, raw string) string {
	const encode = "percent-encode @ : / ? # & % + and spaces in the user name and password"
	if userPart, ok := credentialPart(raw); ok && strings.ContainsAny(userPart, "@/?# ") {
		return fmt.Sprintf("the user name or password holds a character the URL cannot carry as is (%s)", encode)
	}
	msg := err.Error()
	if secretParam.MatchString(raw) && strings.Contains(msg, "unexpected option") {
		return fmt.Sprintf("redis: unexpected option (names not shown: the URL carries a password, which may have been cut at an & or #; %s)", encode)
	}
	return RedactRedisText(msg, raw)
}

// credentialPart is what an operator meant as the user part of raw: from
// after "scheme://" to the last @ (the URL parser stops earlier, at the
// first / ? or #, which is how a password with one of them is cut).
func credentialPart(raw string) (string, bool) {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", false
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return "", false
	}
	return rest[:at], true
}

// redacted stands for a password in messages.
const redacted = "xxxxx"

// secretParam matches the query parameters that carry a password in
// go-redis's URLs (password, sentinel_password), whatever their case.
var secretParam = regexp.MustCompile(`(?i)([?&;](?:sentinel_)?password=)[^&#;\s]*`)

// userinfo matches the user part of a URL: "scheme://" then user[:password]@.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^@/?#\s]*)@`)

// RedactRedisURL returns raw with every password hidden: the password of
// the user part (a user part without a colon may be a bare password and is
// hidden whole) and the password and sentinel_password query parameters.
// It works on text that does not parse as a URL too.
func RedactRedisURL(raw string) string {
	s := userinfo.ReplaceAllStringFunc(raw, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		user, _, hasPass := strings.Cut(sub[2], ":")
		if !hasPass {
			return sub[1] + redacted + "@"
		}
		return sub[1] + user + ":" + redacted + "@"
	})
	return secretParam.ReplaceAllString(s, "${1}"+redacted)
}

// RedactRedisText hides raw's passwords wherever msg (an error's text)
// might quote them: the URL itself, each password on its own (also in
// its URL-escaped form), and anything that looks like a URL's user part or
// password parameter.
func RedactRedisText(msg, raw string) string {
	for _, p := range redisPasswords(raw) {
		msg = strings.ReplaceAll(msg, p, redacted)
	}
	return RedactRedisURL(msg)
}

// redisPasswords lists the secrets raw carries, raw and decoded, longest
// first so that a password inside another is replaced after it.
func redisPasswords(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
	}
	if m := userinfo.FindStringSubmatch(raw); m != nil {
		if _, pass, ok := strings.Cut(m[2], ":"); ok {
			add(pass)
		} else {
			add(m[2])
		}
	}
	for _, m := range secretParam.FindAllString(raw, -1) {
		_, v, _ := strings.Cut(m, "=")
		add(v)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

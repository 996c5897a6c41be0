//! Token-bucket rate limits, in-process by default and shared through Redis
//! when `redis.url` is set. If Redis stops answering, limits fall back to the
//! in-process buckets (per instance) until it answers again; requests are
//! never refused because the limiter's store is down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

pub use crate::config::RateRule as Rule;
use crate::config::{RateLimitConfig, RedisConfig};

impl Rule {
    fn per_ms(&self) -> f64 {
        f64::from(self.per_minute) / 60_000.0
    }
}

/// The outcome of taking one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; a token is available again after this long.
    Limited {
        retry_after: Duration,
    },
}

/// Which store decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    InProcess,
    Redis,
}

pub struct RateLimiter {
    local: LocalBuckets,
    /// Set once a connection to Redis has been made (it then reconnects by itself).
    redis: std::sync::Arc<std::sync::RwLock<Option<redis::aio::ConnectionManager>>>,
    script: redis::Script,
    pub rules: RateLimitConfig,
}

/// Token bucket in Lua so that a read-modify-write is atomic across instances.
/// Time comes from the Redis server, so instance clocks do not matter.
const LUA_TOKEN_BUCKET: &str = r#"
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * per_ms)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
return {allowed, retry}
"#;

impl RateLimiter {
    /// A limiter; with `redis.url` it connects in the background, so that a
    /// Redis that is down does not keep the service from starting (limits are
    /// in-process until it answers). A malformed URL is an error.
    pub async fn new(rules: RateLimitConfig, redis: &RedisConfig) -> anyhow::Result<RateLimiter> {
        let limiter = RateLimiter::in_process(rules);
        if let Some(url) = &redis.url {
            let client = redis::Client::open(url.expose_secret())
                .map_err(|e| anyhow::anyhow!("invalid redis.url: {e}"))?;
            let slot = limiter.redis.clone();
            tokio::spawn(async move {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1);
                loop {
                    let attempt = tokio::time::timeout(
                        Duration::from_secs(5),
                        redis::aio::ConnectionManager::new_with_config(
                            client.clone(),
                            config.clone(),
                        ),
                    )
                    .await;
                    match attempt {
                        Ok(Ok(manager)) => {
                            tracing::info!("rate limits shared through Redis");
                            *slot.write().expect("redis slot") = Some(manager);
                            return;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "rate limit: cannot connect to Redis; in-process limits until it answers");
                        }
                        Err(_) => {
                            tracing::warn!(
                                "rate limit: connecting to Redis timed out; in-process limits until it answers"
                            );
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            });
        }
        Ok(limiter)
    }

    /// An in-process limiter (tests, embedding).
    pub fn in_process(rules: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            local: LocalBuckets::default(),
            redis: Default::default(),
            script: redis::Script::new(LUA_TOKEN_BUCKET),
            rules,
        }
    }

    /// Whether limits are currently shared through Redis.
    pub fn redis_connected(&self) -> bool {
        self.redis.read().expect("redis slot").is_some()
    }

    /// Take one token from `key`'s bucket.
    pub async fn check(&self, key: &str, rule: Rule) -> (Decision, Backend) {
        if !self.rules.enabled {
            return (Decision::Allowed, Backend::InProcess);
        }
        let conn = self.redis.read().expect("redis slot").clone();
        if let Some(mut conn) = conn {
            let result: redis::RedisResult<(i64, i64)> = self
                .script
                .key(format!("p360:rl:{key}"))
                .arg(rule.burst)
                .arg(rule.per_ms())
                .invoke_async(&mut conn)
                .await;
            match result {
                Ok((1, _)) => return (Decision::Allowed, Backend::Redis),
                Ok((_, retry_ms)) => {
                    return (
                        Decision::Limited {
                            retry_after: Duration::from_millis(retry_ms.max(1) as u64),
                        },
                        Backend::Redis,
                    );
                }
                Err(e) => {
                    metrics::counter!("p360_rate_limit_redis_errors_total").increment(1);
                    tracing::warn!(error = %e, "rate limit: Redis unavailable, using in-process buckets");
                }
            }
        }
        (self.local.take(key, rule), Backend::InProcess)
    }
}

#[derive(Default)]
struct LocalBuckets {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Above this many buckets, full ones are dropped (they hold no information).
const MAX_BUCKETS: usize = 100_000;

impl LocalBuckets {
    fn take(&self, key: &str, rule: Rule) -> Decision {
        self.take_at(key, rule, Instant::now())
    }

    /// [`LocalBuckets::take`] at `now` (the tests' clock).
    fn take_at(&self, key: &str, rule: Rule, now: Instant) -> Decision {
        let capacity = f64::from(rule.burst.max(1));
        let per_ms = rule.per_ms();
        let mut map = self.buckets.lock().expect("rate limit buckets");
        if map.len() >= MAX_BUCKETS {
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * 1000.0 * per_ms < capacity
            });
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((capacity, now));
        let elapsed_ms = now.duration_since(*at).as_secs_f64() * 1000.0;
        *tokens = (*tokens + elapsed_ms * per_ms).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Decision::Allowed
        } else {
            let wait_ms = ((1.0 - *tokens) / per_ms).ceil().max(1.0);
            Decision::Limited {
                retry_after: Duration::from_millis(wait_ms as u64),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token a minute: no refill can land between the test's own calls,
    /// whatever the machine's load; the clock is the test's.
    const SLOW: Rule = Rule {
        per_minute: 1,
        burst: 3,
    };

    #[test]
    fn local_bucket_allows_the_burst_then_limits_with_a_wait() {
        let b = LocalBuckets::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take_at("k", SLOW, t0), Decision::Allowed);
        }
        let Decision::Limited { retry_after } = b.take_at("k", SLOW, t0) else {
            panic!("expected a limit after the burst");
        };
        assert_eq!(retry_after, Duration::from_secs(60));
        // Other keys have their own buckets.
        assert_eq!(b.take_at("other", SLOW, t0), Decision::Allowed);
        // Just before the announced wait is over: still limited, by what is left.
        let almost = t0 + retry_after - Duration::from_secs(1);
        match b.take_at("k", SLOW, almost) {
            Decision::Limited { retry_after } => {
                assert_eq!(retry_after, Duration::from_secs(1), "{retry_after:?}");
            }
            d => panic!("refilled early: {d:?}"),
        }
        // Once it is over, one token (and only one) is back.
        let after = almost + Duration::from_millis(1_001);
        assert_eq!(b.take_at("k", SLOW, after), Decision::Allowed);
        assert!(matches!(
            b.take_at("k", SLOW, after),
            Decision::Limited { .. }
        ));
    }
}

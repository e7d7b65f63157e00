"""Rate limit buckets in Redis: the backend when the broker is Redis (one server every worker reaches).

A take is one Lua script (registered through redis-py's ``register_script``), so it is atomic
however many workers take at once, and it reads the time from Redis (``TIME``): hosts whose clocks
disagree still share one bucket. The script is :func:`harvester.ratelimit.bucket.take` in Lua; the
tests run one table of cases against both. Each limit is a hash ``harvester:ratelimit:NAME``
(level, at, rate and the counters ``/metrics`` shows); the set ``harvester:ratelimits`` names them.
"""

from __future__ import annotations

from typing import Any

from harvester.errors import TransientError
from harvester.ratelimit.bucket import EPSILON, Rate
from harvester.ratelimit.limiter import LimitStats

PREFIX = "harvester:ratelimit:"
NAMES = "harvester:ratelimits"
#: Seconds a take may wait for Redis before the run fails (retryably, as ``network``).
TIMEOUT = 10.0
#: Seconds ``/metrics`` waits for the counters: a scrape must not hang on a Redis that does not answer.
STATS_TIMEOUT = 1.0

# KEYS: the limit's hash, the set of names. ARGV: tokens per second, burst, tokens wanted, rate text,
# name, epsilon, and (tests only) the time to use instead of Redis's. Returns the wait as a string
# (a Lua number would come back truncated to an integer); "0" when granted.
TAKE = """
if redis.replicate_commands then redis.replicate_commands() end
local per_second, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now
if ARGV[7] then
  now = tonumber(ARGV[7])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local saved = redis.call('HMGET', KEYS[1], 'level', 'at')
local level, at = burst, now
if saved[1] then
  local elapsed = math.max(0, now - tonumber(saved[2]))
  level = math.min(burst, tonumber(saved[1]) + elapsed * per_second)
  at = math.max(now, tonumber(saved[2]))
end
local needed = math.min(want, burst)
if level >= needed - tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level - want), 'at', string.format('%.17g', at),
    'rate', ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'tokens', want)
  redis.call('SADD', KEYS[2], ARGV[5])
  return '0'
end
return string.format('%.17g', (needed - level) / per_second)
"""


class RedisBucket:
    """Named token buckets in one Redis database, shared by every process that reaches it."""

    def __init__(self, url: str) -> None:
        import redis  # the [redis] extra: only a Redis broker needs it

        self._errors = redis.RedisError
        self.client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self._stats_client = redis.Redis.from_url(
            url, socket_timeout=STATS_TIMEOUT, socket_connect_timeout=STATS_TIMEOUT
        )
        self._take = self.client.register_script(TAKE)

    def take(self, name: str, rate: Rate, tokens: int, now: float | None = None) -> float:
        """Take ``tokens`` of ``name``: 0 when granted, else the seconds to wait (``now``: tests only)."""
        args: list[Any] = [repr(rate.per_second), rate.burst, tokens, str(rate), name, repr(EPSILON)]
        if now is not None:
            args.append(repr(now))
        try:
            answer = self._take(keys=[PREFIX + name, NAMES], args=args)
        except self._errors as exc:
            raise TransientError(f"rate limit {name}: Redis did not answer ({type(exc).__name__}: {exc})") from exc
        return float(answer)

    def record_wait(self, name: str, seconds: float) -> None:
        pipe = self.client.pipeline()
        pipe.hincrby(PREFIX + name, "waits", 1)
        pipe.hincrbyfloat(PREFIX + name, "wait_seconds", seconds)
        pipe.execute()

    def stats(self) -> list[LimitStats]:
        client = self._stats_client
        names = sorted(n.decode() if isinstance(n, bytes) else str(n) for n in client.smembers(NAMES))
        pipe = client.pipeline()
        for name in names:
            pipe.hmget(PREFIX + name, "rate", "tokens", "waits", "wait_seconds")
        found = []
        for name, (rate, tokens, waits, seconds) in zip(names, pipe.execute(), strict=True):
            if rate is None:  # dropped by hand since it was listed
                continue
            found.append(LimitStats(name, rate.decode(), int(tokens or 0), int(waits or 0), float(seconds or 0)))
        return found

    def close(self) -> None:
        self.client.close()
        self._stats_client.close()

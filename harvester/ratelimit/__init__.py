"""Shared rate limits: named token buckets that every worker on every host takes from.

- :mod:`ratelimit.bucket`: the rate syntax and the bucket algorithm, a pure function of time;
- :mod:`ratelimit.limiter`: the backend interface, the blocking acquire and an in-process bucket.

The shared backends live with their engines: the Redis bucket in :mod:`harvester.dispatch.rate_limits`
(next to the broker), the database bucket in :mod:`harvester.history.rate_limits`.
"""

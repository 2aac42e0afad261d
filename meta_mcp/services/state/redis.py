"""`RedisStore`: the state in Redis (redis-py's asyncio client), shared by replicas.

URLs: `redis://[user:password@]host:port/db`, `rediss://…` (TLS), `unix:///path/redis.sock?db=0`.
Every key starts with the prefix (default `meta-mcp`), so one Redis serves several deployments:

| key | type | holds |
|---|---|---|
| `<p>:servers:<ws>` | hash | server name → `ServerRecord` JSON |
| `<p>:config:<ws>` | hash | server name → `{"v":1,"config":{…}}` |
| `<p>:conversations:<ws>`, `<p>:conversation_order:<ws>` | hash, sorted set | id → record; id by write order |
| `<p>:interrupt_state:<uuid4>` | string, TTL | the seed's interrupt JSON (`SETEX … 3600 …`) plus `"v":1` |
| `<p>:ref:<key>` | integer | reference count (deleted at 0) |
| `<p>:events:<sha1(stream)[:16]>` | list, TTL | `[seq, stream, message]` of the last events of one HTTP stream |
| `<p>:changes` | pub/sub channel | the change feed |

Unreachable at `open()`: retried with backoff for `connect_timeout_s`, then `StoreUnavailable` naming
the URL (its password scrubbed). Lost while running: each operation fails at once with
`StoreUnavailable` (it does not wait for Redis) and the next one reconnects by itself; a subscription
resubscribes with backoff and then yields `RESYNC`, since events published meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from meta_mcp.services.state.base import (
    RESYNC,
    Limits,
    StateError,
    StoreBase,
    StoreUnavailable,
    Subscription,
    password_of,
    scrub_url,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

log = logging.getLogger(__name__)
T = TypeVar("T")
_LOST = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

# KEYS: hash, order, counter; ARGV: id, record, cap
_PUT_CONVERSATION = """
local n = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], n, ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
  redis.call('HDEL', KEYS[1], unpack(old))
end
"""
# KEYS: the count
_DECR_REF = """
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end
return n
"""
# KEYS: counter, stream list; ARGV: stream id, message ('' = none), events kept, TTL (ms)
_APPEND_EVENT = """
local n = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], cjson.encode({tostring(n), ARGV[1], ARGV[2]}))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return n
"""


class RedisStore(StoreBase):
    """`StateStore` in Redis (see the module docstring)."""

    def __init__(self, url: str, *, prefix: str = "meta-mcp", connect_timeout_s: float = 30.0,
                 op_timeout_s: float = 5.0, **limits: Unpack[Limits]) -> None:
        super().__init__(**limits)
        if not prefix:
            raise ValueError("the Redis key prefix may not be empty")
        self.url = scrub_url(url)
        """The URL with any password replaced by `***`: safe in messages and logs."""
        self.prefix = prefix
        self.connect_timeout_s = connect_timeout_s
        self.op_timeout_s = op_timeout_s
        self._password = password_of(url)
        self._client = aioredis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=op_timeout_s, socket_timeout=op_timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2), health_check_interval=15,
        )
        self._put_conversation = self._client.register_script(_PUT_CONVERSATION)
        self._decr_ref = self._client.register_script(_DECR_REF)
        self._append_event = self._client.register_script(_APPEND_EVENT)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _scrub(self, error: BaseException) -> str:
        text = str(error) or type(error).__name__
        return text.replace(self._password, "***") if self._password else text

    async def _do(self, what: str, call: Awaitable[T]) -> T:
        """Await one Redis call, turning its failure into a `StateError` that names the URL."""
        try:
            return await call
        except _LOST as e:
            raise StoreUnavailable(f"the state store Redis at {self.url} is unreachable ({what}): {self._scrub(e)}; "
                                   "it reconnects by itself on a later call") from e
        except RedisError as e:
            raise StateError(f"the state store Redis at {self.url} refused {what}: {self._scrub(e)}") from e

    # -- lifetime --
    async def open(self) -> None:
        """PING until it answers, with backoff, for up to `connect_timeout_s`."""
        deadline = time.monotonic() + self.connect_timeout_s
        delay = 0.1
        while True:
            try:
                await asyncio.wait_for(self._client.ping(), timeout=max(deadline - time.monotonic(), 0.2))
                return
            except _LOST as e:
                if isinstance(e, AuthenticationError) or isinstance(e.__cause__, AuthenticationError):
                    raise StoreUnavailable(f"the state store Redis at {self.url} refused the credentials: "
                                           f"{self._scrub(e)}") from e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreUnavailable(
                        f"the state store Redis at {self.url} is unreachable (retried for "
                        f"{self.connect_timeout_s:g} s): {self._scrub(e)}") from e
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, 2.0)
            except RedisError as e:
                raise StoreUnavailable(f"the state store Redis at {self.url} is unusable: {self._scrub(e)}") from e

    async def check(self) -> None:
        """A real write, so a read-only or full Redis fails here too."""
        await self._do("a readiness check", self._client.set(self._key("checked"), str(time.time()), ex=3600))

    async def _close(self) -> None:
        await self._client.aclose()

    # -- servers and config --
    async def _servers_raw(self, workspace: str) -> dict[str, str]:
        return await self._do("reading servers", self._client.hgetall(self._key("servers", workspace)))

    async def _put_server_raw(self, workspace: str, name: str, text: str) -> None:
        await self._do("saving a server", self._client.hset(self._key("servers", workspace), name, text))

    async def delete_server(self, workspace: str, name: str) -> None:
        await self._do("deleting a server", self._client.hdel(self._key("servers", workspace), name))

    async def workspaces(self) -> list[str]:
        head = self._key("servers", "")

        async def scan() -> list[str]:
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", head) + "*"
            return sorted({key[len(head):] async for key in self._client.scan_iter(match=pattern, count=500)})

        return await self._do("listing workspaces", scan())

    async def _get_config_raw(self, workspace: str, name: str) -> str | None:
        return await self._do("reading config", self._client.hget(self._key("config", workspace), name))

    async def _set_config_raw(self, workspace: str, name: str, text: str) -> None:
        await self._do("saving config", self._client.hset(self._key("config", workspace), name, text))

    # -- conversations --
    async def _get_conversation_raw(self, workspace: str, conversation_id: str) -> str | None:
        return await self._do("reading a conversation",
                              self._client.hget(self._key("conversations", workspace), conversation_id))

    async def _put_conversation_raw(self, workspace: str, conversation_id: str, text: str) -> None:
        keys = [self._key("conversations", workspace), self._key("conversation_order", workspace),
                self._key("conversation_seq")]
        await self._do("saving a conversation",
                       self._put_conversation(keys=keys, args=[conversation_id, text, self.max_conversations]))

    # -- interrupts: SETEX <p>:interrupt_state:<id> <ttl> <json>, as the seed did --
    async def _put_interrupt_raw(self, interrupt_id: str, text: str, ttl_s: float) -> None:
        key = self._key("interrupt_state", interrupt_id)
        if float(ttl_s).is_integer():
            call = self._client.execute_command("SETEX", key, int(ttl_s), text)
        else:
            call = self._client.set(key, text, px=max(1, round(ttl_s * 1000)))
        await self._do("saving an interrupt", call)

    async def _get_interrupt_raw(self, interrupt_id: str) -> str | None:
        return await self._do("reading an interrupt", self._client.get(self._key("interrupt_state", interrupt_id)))

    async def delete_interrupt(self, interrupt_id: str) -> None:
        await self._do("deleting an interrupt", self._client.delete(self._key("interrupt_state", interrupt_id)))

    # -- refcounts --
    async def incr_ref(self, key: str) -> int:
        return int(await self._do("counting a reference", self._client.incr(self._key("ref", key))))

    async def decr_ref(self, key: str) -> int:
        return int(await self._do("releasing a reference", self._decr_ref(keys=[self._key("ref", key)])))

    # -- change feed --
    async def _publish_raw(self, text: str) -> None:
        await self._do("publishing a change", self._client.publish(self._key("changes"), text))

    def _new_subscription(self) -> Subscription:
        return _RedisSubscription(self)

    # -- stream events: ids are "<seq>-<stream hash>" --
    def _stream_key(self, stream_hash: str) -> str:
        return self._key("events", stream_hash)

    async def append_event(self, stream_id: str, message: str | None) -> str:
        stream_hash = hashlib.sha1(stream_id.encode()).hexdigest()[:16]
        args = [stream_id, message or "", self.events_per_stream, max(1, round(self.event_ttl_s * 1000))]
        seq = await self._do("saving a stream event", self._append_event(
            keys=[self._key("event_seq"), self._stream_key(stream_hash)], args=args))
        return f"{seq}-{stream_hash}"

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        seq, _, stream_hash = event_id.partition("-")
        if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{16}", stream_hash):
            return None
        entries = [json.loads(e) for e in await self._do(
            "reading stream events", self._client.lrange(self._stream_key(stream_hash), 0, -1))]
        stream = next((s for n, s, _ in entries if n == seq), None)
        if stream is None:
            return None
        return stream, [(f"{n}-{stream_hash}", m or None) for n, s, m in entries if s == stream and int(n) > int(seq)]


class _RedisSubscription(Subscription):
    """One pub/sub connection. redis-py may reconnect and resubscribe by itself (a second `subscribe`
    confirmation tells); else this resubscribes with backoff. Either way the subscriber gets `RESYNC`."""

    def __init__(self, store: RedisStore) -> None:
        super().__init__()
        self._store = store
        self._pubsub: Any = None

    async def _start(self) -> None:
        self._pubsub = await self._store._do("subscribing to the change feed", self._subscribe())

    async def _subscribe(self) -> Any:
        pubsub = self._store._client.pubsub()
        try:
            await pubsub.subscribe(self._store._key("changes"))
            async with asyncio.timeout(self._store.op_timeout_s):
                while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "subscribe":
                    pass  # wait for the confirmation: from now on every publish reaches us
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _next(self) -> dict[str, Any] | None:
        while not self.closed:
            if self._pubsub is None:
                await self._resubscribe()
                return None if self.closed else dict(RESYNC)
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as e:
                if self.closed:
                    break
                log.warning("change feed from Redis at %s lost (%s); resubscribing", self._store.url,
                            self._store._scrub(e))
                await self._drop()
                continue
            kind = (message or {}).get("type")
            if kind == "message":
                return json.loads(message["data"])
            if kind == "subscribe":  # redis-py reconnected and resubscribed by itself
                return dict(RESYNC)
        return None

    async def _resubscribe(self) -> None:
        delay = 0.1
        while not self.closed:
            try:
                self._pubsub = await self._subscribe()
                log.info("change feed from Redis at %s resubscribed", self._store.url)
                return
            except (RedisError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _close(self) -> None:
        await self._drop()

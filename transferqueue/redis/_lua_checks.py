"""Lua that the registry's and the owners' scripts share: the check of their keys' types
before anything is written."""

from __future__ import annotations

from ._lua import ERROR_PREFIX

_KINDS = frozenset({"string", "list", "set", "zset", "hash", "stream"})


def key_types_check(*kinds: str) -> str:
    """Lua that makes a script return an error reply, starting with
    :data:`._lua.ERROR_PREFIX` and naming the key, when ``KEYS[i]`` holds something
    other than ``kinds[i]`` (a key that does not exist passes). Put it first, so that
    nothing is written when a key holds what another program wrote there."""
    unknown = [kind for kind in kinds if kind not in _KINDS]
    if unknown or not kinds:
        raise ValueError(f"not Redis types: {unknown}")
    table = ", ".join(f"'{kind}'" for kind in kinds)
    return f"""local KINDS = {{{table}}}
for i = 1, {len(kinds)} do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'none' and kind ~= KINDS[i] then
    return redis.error_reply('{ERROR_PREFIX}the key ' .. KEYS[i] .. ' holds a ' .. kind
      .. ', not a ' .. KINDS[i])
  end
end
"""

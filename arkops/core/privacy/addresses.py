"""How an IP address may be kept: whole, or cut to the network analytics tools keep (IPv4 /24, IPv6 /48).

The one implementation, used by every visit leads stores (it sits on the
ingest's hot path, hence the cache and the fast IPv4 case) and by
`arkops.core.privacy.stored_ip` for every other store.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


@lru_cache(maxsize=8_192)
def store_ip(ip: str, full: bool) -> str:
    """The address as stored: IPv4 cut to its /24, IPv6 to its /48 unless `full`; anything not an IP becomes ""."""
    v4 = _IPV4.fullmatch(ip)
    if v4:  # the common case, without ipaddress's cost
        a, b, c, d = map(int, v4.groups())
        if a > 255 or b > 255 or c > 255 or d > 255:
            return ""
        return f"{a}.{b}.{c}.{d if full else 0}"
    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return ""
    if full:
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@lru_cache(maxsize=8_192)
def whole_and_stored(ip: str, full: bool) -> tuple[str, str]:
    """(`store_ip(ip, True)`, `store_ip(ip, full)`) in one reading: the visitor id hashes the whole address,
    the visit keeps the stored one (the ingest's hot path)."""
    v4 = _IPV4.fullmatch(ip)
    if v4:
        a, b, c, d = map(int, v4.groups())
        if a > 255 or b > 255 or c > 255 or d > 255:
            return "", ""
        whole = f"{a}.{b}.{c}.{d}"
        return whole, whole if full else f"{a}.{b}.{c}.0"
    return store_ip(ip, True), store_ip(ip, full)

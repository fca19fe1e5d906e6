"""Parses the flags.json document of the ConfigMap flag store.

The rules of the C++ reference (include/agentrollout/flag_client_json.h): a malformed entry
is left out and reported, and the other entries stay usable, so one bad key in a shared
ConfigMap does not switch every flag off. Never raises.
"""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from .evaluate import FlagState


@dataclass
class ParsedFlags:
    readable: bool = False  # False: the document is not a JSON object, nothing was read
    flags: Dict[str, FlagState] = field(default_factory=dict)
    # e.g. "voice_agent_v2.percentage: must be an integer 0..100, got 140"
    errors: List[str] = field(default_factory=list)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity, which Python would accept


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _tenants(entry: Dict[str, Any], key: str, name: str, errors: List[str]) -> Optional[Tuple[str, ...]]:
    value = entry.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        errors.append(f"{key}.{name}: must be an array of strings, got {_dump(value)}")
        return None
    return tuple(value)


def _entry(key: str, entry: Any, errors: List[str]) -> Optional[FlagState]:
    if not isinstance(entry, dict):
        errors.append(f"{key}: must be an object, got {_dump(entry)}")
        return None
    enabled = entry.get("enabled", False)
    if not isinstance(enabled, bool):
        errors.append(f"{key}.enabled: must be true or false, got {_dump(enabled)}")
        return None
    percentage = entry.get("percentage", 0)
    # bool is an int in Python; JSON true is not a number.
    integral = isinstance(percentage, int) or (isinstance(percentage, float) and percentage.is_integer())
    if isinstance(percentage, bool) or not integral or not 0 <= percentage <= 100:
        errors.append(f"{key}.percentage: must be an integer 0..100, got {_dump(percentage)}")
        return None
    enabled_tenants = _tenants(entry, key, "enabledTenants", errors)
    if enabled_tenants is None:
        return None
    disabled_tenants = _tenants(entry, key, "disabledTenants", errors)
    if disabled_tenants is None:
        return None
    return FlagState(key, enabled, int(percentage), enabled_tenants, disabled_tenants)


def parse_flags(document: Union[str, bytes]) -> ParsedFlags:
    parsed = ParsedFlags()
    try:
        text = document.decode("utf-8") if isinstance(document, bytes) else document
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        parsed.errors.append("flags document: not valid JSON")
        return parsed
    if not isinstance(doc, dict):
        parsed.errors.append("flags document: must be a JSON object of flag key -> state")
        return parsed
    parsed.readable = True
    for key, entry in doc.items():
        flag = _entry(key, entry, parsed.errors)
        if flag is not None:
            parsed.flags[key] = flag
    return parsed

"""AgentRollout flags for Python applications: read flags.json, evaluate per tenant."""
from .evaluate import FlagState, bucket, is_on, murmur3_x86_32
from .flag_file import FlagFile
from .parse import ParsedFlags, parse_flags

__all__ = ["FlagFile", "FlagState", "ParsedFlags", "bucket", "is_on", "murmur3_x86_32", "parse_flags"]

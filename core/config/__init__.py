"""services.yaml: the models, the loader and its errors.

`load_config("services.yaml")` returns a Config or raises ConfigError, whose message reads
`file:line: field: message`.
"""

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import Config, config_json_schema, load_config, parse_config
from core.config.models import (
    BreakerPolicy,
    Defaults,
    HistorySettings,
    HttpExpect,
    HttpService,
    McpCall,
    McpExpect,
    McpService,
    RateLimitSettings,
    RetryPolicy,
    ServiceConfig,
)

__all__ = [
    "BreakerPolicy",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Defaults",
    "HistorySettings",
    "HttpExpect",
    "HttpService",
    "McpCall",
    "McpExpect",
    "McpService",
    "RateLimitSettings",
    "RetryPolicy",
    "ServiceConfig",
    "config_json_schema",
    "load_config",
    "parse_config",
]

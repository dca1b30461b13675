"""The web pages' settings, from environment variables (docs/hub.md lists them)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMEDY_", extra="ignore")

    #: How long a browser session lasts after sign-in (its token's expiry or revocation ends it
    #: sooner).
    hub_web_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    #: How often a page showing an active run asks for its progress.
    hub_web_refresh_s: float = Field(default=2.0, ge=0.5, le=300)


@cache
def web_settings() -> WebSettings:
    """Read once per process, like the hub's own settings."""
    return WebSettings()

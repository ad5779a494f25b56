"""The lags of the providers' eventually consistent reads, as `/_sandbox/consistency` shows and
changes them: Kit's list and filter endpoints, HubSpot's CRM search (see `sandbox/replica.py`).
They start at the settings' values (`SWITCHBOARD_SANDBOX_KIT_LIST_LAG_S`,
`SWITCHBOARD_SANDBOX_HUBSPOT_SEARCH_LAG_S`) and go back to them on `POST /_sandbox/reset`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# An hour is far past either provider's worst lag (Kit's p99 is about 5 min): a larger value is
# more likely milliseconds sent as seconds than a test that means it.
MAX_LAG_S = 3600.0


class Consistency(BaseModel):
    """The body of `PUT /_sandbox/consistency` (the fields given change; the others stay) and the
    answer of `GET`. Strict: `"5"` or `true` is refused rather than read as a number."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kit_list_lag_s: float = Field(default=0.0, ge=0, le=MAX_LAG_S, allow_inf_nan=False)
    hubspot_search_lag_s: float = Field(default=0.0, ge=0, le=MAX_LAG_S, allow_inf_nan=False)

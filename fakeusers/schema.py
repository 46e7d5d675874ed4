"""What a click log holds: its columns and the events and categories the product knows.

The reader finds these columns in any order and case; features count the known events and
categories one by one and the rest as ``other``.
"""

from __future__ import annotations

__all__ = ["KNOWN_CATEGORIES", "KNOWN_EVENTS", "OPTIONAL", "REQUIRED"]

#: Columns every log has.
REQUIRED = ("UserId", "Event", "Category")
#: Columns a log may have: the label (a property of the user) and the time of the action.
OPTIONAL = ("Fake", "Timestamp")
KNOWN_EVENTS = ("click_ad", "click_carrousel", "phone_call", "send_email", "send_sms")
KNOWN_CATEGORIES = ("Phone", "Motor", "Jobs", "Leisure", "Holidays", "Real_State")

"""Canonical column names shared by every stage.

Readers map whatever the input calls its columns onto these names, so the rest of the
library never has to guess.
"""

USER = "user_id"
ITEM = "item_id"
TIME = "timestamp"
EVENT = "event"
CATEGORY = "category"
BRAND = "brand"
PRICE = "price"
TITLE = "title"
RATING = "rating"
QUERY = "query"
SESSION = "session_id"
SOURCE = "source"
WEIGHT = "weight"

#: Columns every ``Interactions`` frame has.
REQUIRED = (USER, ITEM, TIME, SOURCE)
#: Optional per-interaction columns understood by the library.
OPTIONAL = (EVENT, RATING, QUERY, SESSION, WEIGHT, CATEGORY)

#: ``source`` value of rows that came from real logs.
REAL = "real"

#: Reserved item codes: no real item ever takes these ids.
PAD_ID = 0
MASK_ID = 1
N_RESERVED = 2

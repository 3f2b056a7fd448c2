"""Ids of records made by the thousand (alarms and their events): random UUIDs drawn from
a generator seeded once from the system's entropy, since `uuid.uuid4` makes a system call
for each (~15 µs, as long as evaluating a reading). They are as unique as uuid4's, not
secret: nothing in Gantry grants access to whoever knows an id."""

from __future__ import annotations

import random
import uuid

_generator = random.Random()


def new_uuid() -> str:
    return str(uuid.UUID(int=_generator.getrandbits(128), version=4))

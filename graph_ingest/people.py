"""Turning AAD object ids into the keys the store holds, at the edge of the ingest.

Teachers and coaches (known from the roster) keep their AAD object id, because cards address them.
Everyone else is treated as a student and keyed-hashed before anything is written: an unknown id is
never stored in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pli_pulse.pseudonym import Pseudonymizer


@dataclass
class PersonKeys:
    pseudonymizer: Pseudonymizer
    staff: set[str] = field(default_factory=set)  # lower-cased AAD ids of teachers and coaches
    _cache: dict[str, str] = field(default_factory=dict, repr=False)

    def add_staff(self, aad_ids) -> None:
        for aad in aad_ids:
            self.staff.add(aad.lower())
        self._cache.clear()

    def __call__(self, aad_object_id: str) -> str:
        key = self._cache.get(aad_object_id)
        if key is None:
            low = aad_object_id.strip().lower()
            key = low if low in self.staff else self.pseudonymizer.student(low)
            self._cache[aad_object_id] = key
        return key

    def is_staff(self, aad_object_id: str) -> bool:
        return aad_object_id.strip().lower() in self.staff

"""git's mailmap format: merge several names or e-mails of one person into one contributor.

Each line (``#`` starts a comment) is one of::

    Proper Name <commit@email>
    <proper@email> <commit@email>
    Proper Name <proper@email> <commit@email>
    Proper Name <proper@email> Commit Name <commit@email>

E-mails and names match case-insensitively, as in git. An entry with a commit name applies only to that
name; otherwise to every name with that e-mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hitrec.errors import CreditsError
from hitrec.store.model import Person

_ENTRY = re.compile(r"\s*([^<]*?)\s*<([^>]*)>")


@dataclass
class Mailmap:
    # (commit email lowercased, commit name lowercased or None) -> (proper name or None, proper email or None)
    entries: dict[tuple[str, str | None], tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, source: str = "mailmap") -> Mailmap:
        mailmap = cls()
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = []
            pos = 0
            while True:
                match = _ENTRY.match(line, pos)
                if not match:
                    break
                parts.append((match.group(1) or None, match.group(2).strip()))
                pos = match.end()
            if not parts or line[pos:].strip() or len(parts) > 2:
                raise CreditsError(
                    f"{source}:{number}: not a mailmap line: {line!r} "
                    "(expected `Proper Name <proper@email> Commit Name <commit@email>`)"
                )
            proper_name, proper_email = parts[0]
            if len(parts) == 1:  # `Proper Name <commit@email>`: fix the name only
                key: tuple[str, str | None] = (proper_email.lower(), None)
                new: tuple[str | None, str | None] = (proper_name, None)
            else:
                commit_name, commit_email = parts[1]
                key = (commit_email.lower(), commit_name.lower() if commit_name else None)
                new = (proper_name, proper_email or None)
            old_name, old_email = mailmap.entries.get(key, (None, None))
            mailmap.entries[key] = (new[0] or old_name, new[1] or old_email)  # later lines add, as in git
        return mailmap

    @classmethod
    def load(cls, path: Path) -> Mailmap:
        """The mailmap at ``path``; an empty one when the file does not exist."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise CreditsError(f"{path}: cannot read the mailmap: {exc}") from exc
        return cls.parse(text, str(path))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def canonical(self, person: Person) -> Person:
        """The person as the mailmap names them (unchanged when no entry matches)."""
        email = person.email.lower()
        found = self.entries.get((email, person.name.lower())) or self.entries.get((email, None))
        if found is None:
            return person
        name, new_email = found
        return Person(name or person.name, new_email or person.email)

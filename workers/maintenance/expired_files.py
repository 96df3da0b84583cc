"""Delete files past their expiry: the periodic `delete_expired_files` sweep.

The API stops serving a file the moment it expires; this sweep reclaims its rows
(the chunks go with the file, ON DELETE CASCADE) a page at a time, each page its
own short transaction, so a large backlog never holds one long lock.
"""

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import StoredFile

logger = logging.getLogger(__name__)

PAGE_FILES = 100
MAX_PAGES = 50  # a run's bound; the next run carries on


def delete_expired_files(
    sessions: sessionmaker[Session], *, page: int = PAGE_FILES
) -> int:
    """How many expired files were deleted. Safe to run concurrently: a file is
    deleted once, by whichever run locks it first (SKIP LOCKED)."""
    deleted = 0
    for _ in range(MAX_PAGES):
        with sessions.begin() as session:
            expired = (
                select(StoredFile.id)
                .where(StoredFile.expires_at <= func.now())
                .limit(page)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.scalars(expired))
            if ids:
                session.execute(delete(StoredFile).where(StoredFile.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < page:
            break
    if deleted:
        logger.info("deleted %d expired files", deleted)
    return deleted

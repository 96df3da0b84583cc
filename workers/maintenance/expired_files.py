"""Delete files past their expiry: the periodic `delete_expired_files` sweep.

The API stops serving a file the moment it expires; this sweep reclaims its rows
(the chunks go with the file, ON DELETE CASCADE) a page at a time, each page its
own short transaction, so a large backlog never holds one long lock. The objects of
files kept in the object store are deleted once their rows are: a failure there
leaves an object no row names (for the bucket's lifecycle rule), never a row
without its bytes.
"""

import logging
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import StoredFile
from shared.object_store import ObjectStore
from shared.settings import FileStorage

logger = logging.getLogger(__name__)

PAGE_FILES = 100
MAX_PAGES = 50  # a run's bound; the next run carries on


def delete_expired_files(
    sessions: sessionmaker[Session],
    *,
    page: int = PAGE_FILES,
    objects: ObjectStore | None = None,
) -> int:
    """How many expired files were deleted. Safe to run concurrently: a file is
    deleted once, by whichever run locks it first (SKIP LOCKED)."""
    deleted = 0
    for _ in range(MAX_PAGES):
        with sessions.begin() as session:
            expired = (
                select(StoredFile.id, StoredFile.storage)
                .where(StoredFile.expires_at <= func.now())
                .limit(page)
                .with_for_update(skip_locked=True)
            )
            rows = session.execute(expired).all()
            if rows:
                ids = [row.id for row in rows]
                session.execute(delete(StoredFile).where(StoredFile.id.in_(ids)))
        _delete_objects(objects, [r.id for r in rows if r.storage == FileStorage.S3])
        deleted += len(rows)
        if len(rows) < page:
            break
    if deleted:
        logger.info("deleted %d expired files", deleted)
    return deleted


def _delete_objects(objects: ObjectStore | None, file_ids: list[UUID]) -> None:
    if not file_ids:
        return
    if objects is None:
        logger.warning(
            "%d expired files were in the object store, which is not configured:"
            " their objects are left",
            len(file_ids),
        )
        return
    objects.delete(file_ids)

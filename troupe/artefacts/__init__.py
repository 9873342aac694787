"""Large step outputs kept once in the database, per tenant; events carry a reference (decision 12)."""

from troupe.artefacts.chunk_store import ChunkArtefacts
from troupe.artefacts.gridfs_store import GridFSArtefacts
from troupe.artefacts.memory import InMemoryArtefacts
from troupe.artefacts.outputs import (
    JSON,
    TEXT,
    decode_output,
    encode_output,
    excerpted,
    excerpted_results,
    whole_results,
)
from troupe.artefacts.retention import Pruned, TaskEnd, TaskEnds, expired, prune
from troupe.artefacts.selection import SelectedArtefacts, StoreKind, gridfs_works
from troupe.artefacts.store import (
    ArtefactNotFound,
    ArtefactStore,
    StoredArtefact,
    TaskArtefacts,
    artefact_id,
    describe,
)

__all__ = [
    "JSON",
    "TEXT",
    "ArtefactNotFound",
    "ArtefactStore",
    "ChunkArtefacts",
    "GridFSArtefacts",
    "InMemoryArtefacts",
    "Pruned",
    "SelectedArtefacts",
    "StoreKind",
    "StoredArtefact",
    "TaskArtefacts",
    "TaskEnd",
    "TaskEnds",
    "artefact_id",
    "decode_output",
    "describe",
    "encode_output",
    "excerpted",
    "excerpted_results",
    "expired",
    "gridfs_works",
    "prune",
    "whole_results",
]

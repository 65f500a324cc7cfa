"""Event source mappings (SQS): their configuration, validation and states."""

from __future__ import annotations

from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.names import Arns
from loam.services.sqs import SqsService
from loam.store.sql import Database

__all__ = ["EventSourceMappings"]


class EventSourceMappings:
    def __init__(self, database: Database, functions: FunctionService, clock: Clock,
                 arns: Arns, sqs: SqsService) -> None:
        self.database = database
        self.functions = functions
        self.clock = clock
        self.arns = arns
        self.sqs = sqs

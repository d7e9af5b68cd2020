"""Jobs, tasks, appointments and time entries: the work SMS is about."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.columns import UtcDateTime


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    title: str = Field(max_length=300)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    latitude: float | None = None
    longitude: float | None = None


class Task(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    name: str = Field(max_length=300)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")


class Appointment(SQLModel, table=True):
    """An appointment; its contact is one of the client's contacts, or the client when None."""

    __table_args__ = (
        sa.Index("ix_appointment_user_start", "user_id", "start"),
        sa.Index("ix_appointment_start_reminder", "start", "sms_reminder"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    job_id: int = Field(foreign_key="job.id", index=True)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    sms_reminder: bool = False


class TimeEntry(SQLModel, table=True):
    __tablename__ = "time_entry"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)

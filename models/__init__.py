"""The TimeTrak SMS domain: tables and the rules about them."""

from models.clients import Client, Contact
from models.company import AlertAcknowledgement, AuthToken, GlobalSettings, Profile, User
from models.sms import (
    InboundMessage,
    OptOut,
    ReminderEvent,
    SmsMessage,
    SmsMessageAppointment,
    SmsMessageText,
    SmsTemplate,
)
from models.work import Appointment, Job, Task, TimeEntry

__all__ = [
    "AlertAcknowledgement",
    "Appointment",
    "AuthToken",
    "Client",
    "Contact",
    "GlobalSettings",
    "InboundMessage",
    "Job",
    "OptOut",
    "Profile",
    "ReminderEvent",
    "SmsMessage",
    "SmsMessageAppointment",
    "SmsMessageText",
    "SmsTemplate",
    "Task",
    "TimeEntry",
    "User",
]

"""Where the App was when it sent: checked on the way in, measured against the job site."""

from __future__ import annotations

import math

from geopy.distance import geodesic

from models.errors import DomainError, ErrorCode


def check_location(latitude: float, longitude: float, accuracy_meters: float | None) -> None:
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise DomainError(
            ErrorCode.INVALID_LOCATION,
            "Latitude must be between -90 and 90.",
            field="location.latitude",
        )
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise DomainError(
            ErrorCode.INVALID_LOCATION,
            "Longitude must be between -180 and 180.",
            field="location.longitude",
        )
    if accuracy_meters is not None and not (
        math.isfinite(accuracy_meters) and accuracy_meters >= 0
    ):
        raise DomainError(
            ErrorCode.INVALID_LOCATION,
            "Accuracy cannot be negative.",
            field="location.accuracyMeters",
        )


def distance_meters(
    latitude: float, longitude: float, site_latitude: float | None, site_longitude: float | None
) -> float | None:
    """Geodesic distance to the job site, or None when the job has no coordinates."""
    if site_latitude is None or site_longitude is None:
        return None
    return geodesic((latitude, longitude), (site_latitude, site_longitude)).meters

"""Registration routes: /api/v1/register (check-profiles, patient, donor, center)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.throttle import PROFILE_PROBES
from edge.deps import client_ip, throttle_of
from edge.envelope import iso, ok
from edge.errors import TooManyRequests
from edge.openapi import request_body
from edge.schemas.register import (
    CenterRegistration,
    CheckProfilesBody,
    DonorRegistration,
    PatientRegistration,
)
from edge.services import registration
from edge.validation import parse_body

bp = Blueprint("register", url_prefix="/register")


@bp.post("/check-profiles", name="check_profiles")
@request_body(CheckProfilesBody)
async def check_profiles(request: Request) -> HTTPResponse:
    """Which profiles (DONOR, PATIENT) an e-mail has; limited to 20 calls a minute per IP."""
    throttle = throttle_of(request)
    if not await throttle.allow(PROFILE_PROBES, client_ip(request)):
        retry_after = await throttle.retry_after(PROFILE_PROBES, client_ip(request))
        raise TooManyRequests(retry_after=retry_after or PROFILE_PROBES.window)
    body = parse_body(request, CheckProfilesBody)
    profiles = await registration.check_profiles(body.email)
    return ok({"profiles": profiles}, message="Profiles retrieved successfully")


@bp.post("/patient", name="register_patient")
@request_body(PatientRegistration)
async def register_patient(request: Request) -> HTTPResponse:
    """Register a patient (or add a patient profile to a donor account, with its password)."""
    body = parse_body(request, PatientRegistration, err_code="invalid_patient_data")
    result = await registration.register_patient(body)
    user, profile = result.user, result.profile
    data = {
        "patientId": user.id,
        "email": user.email,
        "fullName": user.full_name,
        "phone": user.phone or "",
        "dateOfBirth": iso(profile.date_of_birth),
        "gender": profile.gender,
        "state": profile.state,
        "localGovernment": profile.city,
    }
    return ok(data, message="Patient registered successfully", status=201)


@bp.post("/donor", name="register_donor")
@request_body(DonorRegistration)
async def register_donor(request: Request) -> HTTPResponse:
    """Register a donor (or add a donor profile to a patient account, with its password)."""
    body = parse_body(request, DonorRegistration, err_code="invalid_donor_data")
    result = await registration.register_donor(body)
    user, profile = result.user, result.profile
    data = {
        "donorId": user.id,
        "email": user.email,
        "fullName": user.full_name,
        "phone": user.phone or "",
        "organization": profile.organization_name or "",
    }
    return ok(data, message="Donor registered successfully", status=201)


@bp.post("/center", name="register_center")
@request_body(CenterRegistration)
async def register_center(request: Request) -> HTTPResponse:
    """Register a screening center (INACTIVE until an admin activates it) and its owner."""
    body = parse_body(request, CenterRegistration, err_code="invalid_center_data")
    result = await registration.register_center(body)
    center = result.center
    data = {
        "centerId": center.id,
        "centerName": center.center_name,
        "email": center.email,
        "phoneNumber": center.phone or "",
        "address": center.address,
        "state": center.state,
        "localGovernment": center.lga,
        "services": result.services,
    }
    return ok(data, message="Center registered successfully", status=201)

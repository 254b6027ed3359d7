"""The demo data ``models.seed`` writes: plain values, no I/O.

Screening types and categories are the reference seed's (spec/api/centers.md: 25 types);
centers, people and campaigns are fictional but realistic Nigerian examples.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from models.enums import Gender, ServiceCenterStatus

#: (name, description, category id, agreed price in naira)
SCREENING_TYPES: tuple[tuple[str, str, str, float], ...] = (
    ("Cervical Cancer Screening", "Pap smear test", "cancer", 15000.0),
    ("Breast Cancer Screening", "Mammography test", "cancer", 25000.0),
    ("Prostate Cancer Screening", "PSA blood test", "cancer", 12000.0),
    ("Colorectal Cancer Screening", "Colonoscopy and stool tests", "cancer", 30000.0),
    ("Skin Cancer Screening", "Dermatological evaluation", "cancer", 10000.0),
    ("Polio Vaccine", "Polio immunization", "vaccine", 3000.0),
    ("Hepatitis B Vaccine", "Prevent Hepatitis B", "vaccine", 8000.0),
    ("HPV Vaccine", "Protect against HPV infection", "vaccine", 20000.0),
    ("COVID-19 Vaccine", "Immunization against COVID-19", "vaccine", 5000.0),
    ("Measles Vaccine", "Prevent measles infection", "vaccine", 3000.0),
    ("Blood Pressure Check", "Basic BP screening", "general", 2000.0),
    ("Diabetes Screening", "Blood sugar test", "general", 3500.0),
    ("Vision Test", "Basic eye check", "general", 4000.0),
    ("Cholesterol Check", "Lipid profile test", "general", 6000.0),
    ("Liver Function Test", "Check liver health", "general", 9000.0),
    ("Antiretroviral Therapy", "HIV treatment access", "treatement", 10000.0),
    ("Malaria Treatment", "Treatment for malaria-positive patients", "treatement", 5000.0),
    ("Tuberculosis Treatment", "Free TB treatment", "treatement", 10000.0),
    ("Typhoid Treatment", "Treat typhoid fever", "treatement", 6000.0),
    ("Pneumonia Treatment", "Respiratory illness management", "treatement", 12000.0),
    ("Body Mass Index (BMI) Screening", "General obesity and weight check", "screening", 1500.0),
    ("Hearing Test", "Basic audiometry screening", "screening", 5000.0),
    ("Mental Health Evaluation", "Depression and anxiety screening", "screening", 10000.0),
    ("Dental Check", "Routine oral hygiene exam", "screening", 7500.0),
    ("Allergy Test", "Common allergen panel", "screening", 15000.0),
)


class DemoCenter(NamedTuple):
    name: str
    address: str
    state: str
    lga: str
    phone: str
    bank_name: str
    bank_code: str
    status: ServiceCenterStatus
    #: Screening type names offered, with the center's price as a fraction of the agreed price.
    services: tuple[str, ...]
    price_factor: float


_CANCER = ("Cervical Cancer Screening", "Breast Cancer Screening")
_ACTIVE = ServiceCenterStatus.ACTIVE

# fmt: off
#: Center n (1-based) logs in as ``center<n>@zerocancer.org``.
CENTERS: tuple[DemoCenter, ...] = (
    DemoCenter(
        "Ikeja Wellness Diagnostics", "12 Obafemi Awolowo Way, Ikeja", "Lagos", "Ikeja",
        "+2348031234501", "Access Bank", "044", _ACTIVE,
        (*_CANCER, "Prostate Cancer Screening", "HPV Vaccine", "Blood Pressure Check"), 1.2,
    ),
    DemoCenter(
        "Surulere Community Health Centre", "45 Adeniran Ogunsanya Street, Surulere", "Lagos",
        "Surulere", "+2348031234502", "Guaranty Trust Bank", "058", _ACTIVE,
        (*_CANCER, "Diabetes Screening", "Hepatitis B Vaccine"), 1.0,
    ),
    DemoCenter(
        "Abeokuta Cancer Screening Clinic", "8 Lalubu Street, Oke-Ilewo", "Ogun",
        "Abeokuta South", "+2348031234503", "First Bank of Nigeria", "011", _ACTIVE,
        (*_CANCER, "Colorectal Cancer Screening", "Skin Cancer Screening"), 0.9,
    ),
    DemoCenter(
        "Gwagwalada Specialist Screening Centre", "Plot 14 Hospital Road", "FCT", "Gwagwalada",
        "+2348031234504", "Zenith Bank", "057", _ACTIVE,
        (*_CANCER, "Prostate Cancer Screening", "Cholesterol Check", "Vision Test"), 1.1,
    ),
    DemoCenter(
        "Nasarawa Diagnostic Hospital", "22 Zoo Road, Nasarawa", "Kano", "Nasarawa",
        "+2348031234505", "United Bank for Africa", "033", _ACTIVE,
        (*_CANCER, "Prostate Cancer Screening", "Malaria Treatment"), 0.85,
    ),
    DemoCenter(
        "Nsukka Women's Health Clinic", "3 University Road, Nsukka", "Enugu", "Nsukka",
        "+2348031234506", "Fidelity Bank", "070", _ACTIVE,
        (*_CANCER, "HPV Vaccine", "Mental Health Evaluation"), 0.95,
    ),
    DemoCenter(
        "Wamako Primary Screening Centre", "Km 5 Sokoto-Jega Road, Wamako", "Sokoto", "Wamako",
        "+2348031234507", "Union Bank of Nigeria", "032", _ACTIVE,
        ("Prostate Cancer Screening", "Colorectal Cancer Screening", "Tuberculosis Treatment"),
        0.8,
    ),
    DemoCenter(
        "Garden City Screening Centre", "17 Aba Road", "Rivers", "Port Harcourt",
        "+2348031234508", "Sterling Bank", "232", ServiceCenterStatus.INACTIVE,
        (*_CANCER, "Dental Check"), 1.0,
    ),
)
# fmt: on


class DemoPerson(NamedTuple):
    full_name: str
    phone: str
    password: str
    gender: Gender
    date_of_birth: dt.datetime
    state: str
    lga: str
    organization: str


# fmt: off
#: Patient n logs in as ``testpatient<n>@example.com``; donor n as ``testdonor<n>@example.com``.
PATIENTS: tuple[DemoPerson, ...] = (
    DemoPerson("Funmilayo Adeyemi", "+2348051112201", "password123", Gender.FEMALE,
               dt.datetime(1984, 3, 14), "Lagos", "Ikeja", ""),
    DemoPerson("Musa Ibrahim", "+2348051112202", "testpass456", Gender.MALE,
               dt.datetime(1968, 11, 2), "Kano", "Nasarawa", ""),
    DemoPerson("Adaeze Okafor", "+2348051112203", "demo789", Gender.FEMALE,
               dt.datetime(1991, 7, 23), "Enugu", "Nsukka", ""),
)
DONORS: tuple[DemoPerson, ...] = (
    DemoPerson("Chinedu Eze", "+2348061113301", "password123", Gender.MALE,
               dt.datetime(1975, 1, 9), "Lagos", "Ikeja", "Eze Family Foundation"),
    DemoPerson("Ngozi Balogun", "+2348061113302", "testpass456", Gender.FEMALE,
               dt.datetime(1980, 5, 30), "Lagos", "Surulere", "Lagos Pink Ribbon Circle"),
    DemoPerson("Tunde Bakare", "+2348061113303", "demo789", Gender.MALE,
               dt.datetime(1972, 9, 17), "Kano", "Nasarawa", ""),
)
# fmt: on

CENTER_PASSWORD = "centerpass"  # noqa: S105, published demo password
STAFF_PASSWORD = "staffpass"  # noqa: S105, published demo password


class DemoCampaign(NamedTuple):
    title: str
    purpose: str
    amount: float
    target_gender: Gender | None
    target_age_range: str
    target_states: tuple[str, ...]
    screening_types: tuple[str, ...]


# fmt: off
#: Campaign n belongs to donor n and is funded by one completed donation of ``amount``.
CAMPAIGNS: tuple[DemoCampaign, ...] = (
    DemoCampaign(
        "Cervical cancer screening for Lagos women",
        "Free Pap smears and HPV vaccination for women aged 25 to 65 in Lagos State.",
        500000.0, Gender.FEMALE, "25-65", ("Lagos",),
        ("Cervical Cancer Screening", "HPV Vaccine"),
    ),
    DemoCampaign(
        "Breast cancer checks in the South East",
        "Mammograms for women over 30 in Enugu and Anambra.",
        300000.0, Gender.FEMALE, "30-70", ("Enugu", "Anambra"),
        ("Breast Cancer Screening",),
    ),
    DemoCampaign(
        "Prostate health for men in the North",
        "PSA tests and colorectal screening for men over 40.",
        200000.0, Gender.MALE, "40-75", ("Kano", "Sokoto"),
        ("Prostate Cancer Screening", "Colorectal Cancer Screening"),
    ),
)
# fmt: on

#: Anonymous donations credited to the general donor pool: (payment reference, naira).
ANONYMOUS_DONATIONS: tuple[tuple[str, float], ...] = (("seed-anonymous-donation-1", 100000.0),)

#: Waitlist entries: (patient number, screening type name), left PENDING for matching.
WAITLIST: tuple[tuple[int, str], ...] = (
    (1, "Cervical Cancer Screening"),
    (2, "Prostate Cancer Screening"),
    (3, "Breast Cancer Screening"),
)

"""MatchingConfig: spec/matching.md §2 knobs, strict env parsing (D-MAT-21), override order."""

from __future__ import annotations

import logging

import pytest

from actors.matching.config import KNOBS, MatchingConfig, MatchingConfigError, MatchingSchedule

DEFAULTS = {
    "patientsPerScreeningType": 50,
    "maxTotalPatients": 500,
    "enableParallelProcessing": False,
    "maxConcurrentScreeningTypes": 5,
    "enableDemographicTargeting": True,
    "enableGeographicTargeting": True,
    "allocationExpiryDays": 30,
}


def test_knobs_are_the_seven_of_the_spec_with_their_variables() -> None:
    assert [(k.key, k.env, k.default, k.low, k.high) for k in KNOBS] == [
        ("patientsPerScreeningType", "WAITLIST_BATCH_SIZE", 50, 1, 100),
        ("maxTotalPatients", "WAITLIST_MAX_TOTAL", 500, 1, 1000),
        ("enableParallelProcessing", "WAITLIST_PARALLEL", False, None, None),
        ("maxConcurrentScreeningTypes", "WAITLIST_CONCURRENT", 5, 1, 10),
        ("enableDemographicTargeting", "WAITLIST_DEMOGRAPHIC_TARGETING", True, None, None),
        ("enableGeographicTargeting", "WAITLIST_GEOGRAPHIC_TARGETING", True, None, None),
        ("allocationExpiryDays", "WAITLIST_EXPIRY_DAYS", 30, 1, 365),
    ]
    for knob in KNOBS:
        assert getattr(MatchingConfig(), knob.attr) == knob.default


def test_empty_environment_gives_the_defaults() -> None:
    assert MatchingConfig.from_env({}) == MatchingConfig()
    assert MatchingConfig.from_env({}).batch_config() == DEFAULTS


@pytest.mark.parametrize(
    ("variable", "raw", "key", "value"),
    [
        ("WAITLIST_BATCH_SIZE", "1", "patientsPerScreeningType", 1),
        ("WAITLIST_BATCH_SIZE", " 100 ", "patientsPerScreeningType", 100),
        ("WAITLIST_BATCH_SIZE", "+7", "patientsPerScreeningType", 7),
        ("WAITLIST_MAX_TOTAL", "1000", "maxTotalPatients", 1000),
        ("WAITLIST_PARALLEL", "true", "enableParallelProcessing", True),
        ("WAITLIST_PARALLEL", "TRUE", "enableParallelProcessing", True),
        ("WAITLIST_CONCURRENT", "10", "maxConcurrentScreeningTypes", 10),
        ("WAITLIST_DEMOGRAPHIC_TARGETING", "false", "enableDemographicTargeting", False),
        ("WAITLIST_DEMOGRAPHIC_TARGETING", "True", "enableDemographicTargeting", True),
        ("WAITLIST_GEOGRAPHIC_TARGETING", " False ", "enableGeographicTargeting", False),
        ("WAITLIST_EXPIRY_DAYS", "365", "allocationExpiryDays", 365),
        ("WAITLIST_EXPIRY_DAYS", "", "allocationExpiryDays", 30),  # empty counts as unset
    ],
)
def test_environment_values(variable: str, raw: str, key: str, value: object) -> None:
    assert MatchingConfig.from_env({variable: raw}).batch_config()[key] == value


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        (
            "WAITLIST_BATCH_SIZE",
            "abc",
            "WAITLIST_BATCH_SIZE must be an integer between 1 and 100, got 'abc'",
        ),
        (
            "WAITLIST_BATCH_SIZE",
            "0",
            "WAITLIST_BATCH_SIZE must be an integer between 1 and 100, got 0",
        ),
        ("WAITLIST_BATCH_SIZE", "101", "between 1 and 100, got 101"),
        ("WAITLIST_BATCH_SIZE", "5.0", "got '5.0'"),
        ("WAITLIST_BATCH_SIZE", "-1", "got '-1'"),
        ("WAITLIST_BATCH_SIZE", "NaN", "got 'NaN'"),
        ("WAITLIST_MAX_TOTAL", "1001", "WAITLIST_MAX_TOTAL must be an integer between 1 and 1000"),
        ("WAITLIST_CONCURRENT", "11", "WAITLIST_CONCURRENT must be an integer between 1 and 10"),
        (
            "WAITLIST_EXPIRY_DAYS",
            "366",
            "WAITLIST_EXPIRY_DAYS must be an integer between 1 and 365",
        ),
        ("WAITLIST_EXPIRY_DAYS", "٣", "got '٣'"),  # a non-ASCII digit
        ("WAITLIST_PARALLEL", "1", "WAITLIST_PARALLEL must be a boolean (true or false), got '1'"),
        (
            "WAITLIST_DEMOGRAPHIC_TARGETING",
            "no",
            "WAITLIST_DEMOGRAPHIC_TARGETING must be a boolean",
        ),
        ("WAITLIST_GEOGRAPHIC_TARGETING", "0", "WAITLIST_GEOGRAPHIC_TARGETING must be a boolean"),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, raw: str, expected: str) -> None:
    with pytest.raises(MatchingConfigError) as caught:
        MatchingConfig.from_env({variable: raw})
    assert expected in str(caught.value)


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(MatchingConfigError) as caught:
        MatchingConfig.from_env({"WAITLIST_BATCH_SIZE": "0", "WAITLIST_PARALLEL": "yes"})
    assert len(caught.value.problems) == 2
    assert caught.value.problems[0].startswith("WAITLIST_BATCH_SIZE")
    assert caught.value.problems[1].startswith("WAITLIST_PARALLEL")


def test_deprecated_demographics_variable_is_read_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="actors.matching.config"):
        config = MatchingConfig.from_env({"WAITLIST_DEMOGRAPHICS": "false"})
    assert config.enable_demographic_targeting is False
    assert "WAITLIST_DEMOGRAPHICS is deprecated" in caplog.text


def test_new_demographics_variable_wins_over_the_deprecated_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="actors.matching.config"):
        config = MatchingConfig.from_env(
            {"WAITLIST_DEMOGRAPHIC_TARGETING": "true", "WAITLIST_DEMOGRAPHICS": "false"}
        )
    assert config.enable_demographic_targeting is True
    assert caplog.text == ""


def test_bad_deprecated_variable_is_named_as_such() -> None:
    with pytest.raises(MatchingConfigError, match=r"^WAITLIST_DEMOGRAPHICS must be a boolean"):
        MatchingConfig.from_env({"WAITLIST_DEMOGRAPHICS": "off"})


# -- resolution order: request > stored > environment > defaults ----------------------------------

ENV = {
    "WAITLIST_BATCH_SIZE": "20",
    "WAITLIST_EXPIRY_DAYS": "10",
    "WAITLIST_GEOGRAPHIC_TARGETING": "false",
}


@pytest.mark.parametrize(
    ("stored", "request_body", "expected"),
    [
        (
            None,
            None,
            {
                "patientsPerScreeningType": 20,
                "allocationExpiryDays": 10,
                "enableGeographicTargeting": False,
                "maxTotalPatients": 500,
            },
        ),
        (
            {"patientsPerScreeningType": 30},
            None,
            {"patientsPerScreeningType": 30, "allocationExpiryDays": 10},
        ),
        (
            {"patientsPerScreeningType": 30},
            {"patientsPerScreeningType": 40},
            {"patientsPerScreeningType": 40},
        ),
        (
            {"patientsPerScreeningType": 30},
            {"allocationExpiryDays": 5},
            {
                "patientsPerScreeningType": 30,
                "allocationExpiryDays": 5,
                "enableGeographicTargeting": False,
            },
        ),
        ({"enableGeographicTargeting": True}, {}, {"enableGeographicTargeting": True}),
        ({"maxTotalPatients": 900}, {"maxTotalPatients": None}, {"maxTotalPatients": 900}),
        ({"maxTotalPatients": None}, None, {"maxTotalPatients": 500}),
        (None, {"maxTotalPatients": 100.0}, {"maxTotalPatients": 100}),
    ],
)
def test_resolution_order(
    stored: dict[str, object] | None,
    request_body: dict[str, object] | None,
    expected: dict[str, object],
) -> None:
    config = MatchingConfig.resolve(ENV, stored=stored, request=request_body)
    effective = config.batch_config()
    assert {key: effective[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"patientsPerScreeningType": 0},
            "request: patientsPerScreeningType must be an integer between 1 and 100, got 0",
        ),
        ({"patientsPerScreeningType": True}, "got True"),
        ({"patientsPerScreeningType": 2.5}, "got 2.5"),
        ({"patientsPerScreeningType": "50"}, "got '50'"),
        ({"enableParallelProcessing": 1}, "request: enableParallelProcessing must be a boolean"),
        ({"allocationExpiryDays": 400}, "between 1 and 365, got 400"),
        ({"batchSize": 10}, "request: unknown key 'batchSize'"),
        ({"patients_per_screening_type": 10}, "unknown key"),
    ],
)
def test_bad_overrides(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(MatchingConfigError) as caught:
        MatchingConfig.resolve({}, request=overrides)
    assert expected in str(caught.value)


def test_bad_stored_override_names_its_source() -> None:
    with pytest.raises(MatchingConfigError, match=r"^stored override: maxTotalPatients"):
        MatchingConfig.resolve({}, stored={"maxTotalPatients": 5000})


def test_direct_construction_is_validated() -> None:
    with pytest.raises(MatchingConfigError, match="patientsPerScreeningType"):
        MatchingConfig(patients_per_screening_type=0)
    with pytest.raises(MatchingConfigError, match="enableParallelProcessing"):
        MatchingConfig(enable_parallel_processing=1)  # type: ignore[arg-type]


def test_config_is_immutable() -> None:
    config = MatchingConfig()
    with pytest.raises(AttributeError):
        config.max_total_patients = 3  # type: ignore[misc]


# -- scheduling knob (not part of batchConfig) -----------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "hours"),
    [
        ({}, 18),
        ({"WAITLIST_MATCHING_INTERVAL_HOURS": "1"}, 1),
        ({"WAITLIST_MATCHING_INTERVAL_HOURS": "168"}, 168),
        ({"WAITLIST_MATCHING_INTERVAL_HOURS": " "}, 18),
    ],
)
def test_schedule_interval(environ: dict[str, str], hours: int) -> None:
    assert MatchingSchedule.from_env(environ).interval_hours == hours


@pytest.mark.parametrize("raw", ["0", "169", "6h", "1.5"])
def test_bad_schedule_interval(raw: str) -> None:
    with pytest.raises(MatchingConfigError, match=r"^WAITLIST_MATCHING_INTERVAL_HOURS must be"):
        MatchingSchedule.from_env({"WAITLIST_MATCHING_INTERVAL_HOURS": raw})

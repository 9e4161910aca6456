"""JUnit XML: one test case per hypothesis check and per invariant, plus the verdict, so a
CI system shows exactly which check deviated and with what value."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from chaos.report.formatting import offset, probe_value
from chaos.report.model import ProbeValue, Report


def junit_suite(report: Report) -> ET.Element:
    suite = ET.Element("testsuite", name=report.experiment.title)
    suite.set("timestamp", _iso(report.experiment.started_at or report.t0))
    if report.experiment.duration_s is not None:
        suite.set("time", f"{report.experiment.duration_s:.3f}")
    cases: list[ET.Element] = []

    verdict = ET.Element("testcase", classname=f"{_slug(report)}.run", name="verdict")
    if report.verdict.exit_code != 0:
        failure = ET.SubElement(
            verdict,
            "failure",
            type=report.verdict.verdict,
            message=f"{report.verdict.verdict} (exit code {report.verdict.exit_code}): "
            f"{report.verdict.reason or report.verdict.meaning}",
        )
        failure.text = report.verdict.meaning
    cases.append(verdict)

    for probe in report.probes:
        for value in probe.values:
            case = ET.Element(
                "testcase",
                classname=f"{_slug(report)}.hypothesis.{probe.name}",
                name=f"{probe.name} at {offset(value.offset_s)} ({value.phase})",
            )
            if not value.ok:
                failure = ET.SubElement(
                    case,
                    "failure",
                    type="tolerance",
                    message=f"{probe.name} = {_value_text(value)}, "
                    f"tolerance {probe.tolerance} ({value.phase}, {offset(value.offset_s)})",
                )
                failure.text = f"value: {value.value!r}\ntolerance: {probe.tolerance}"
                if value.error:
                    failure.text += f"\nerror: {value.error}"
            cases.append(case)

    for invariant in report.invariants:
        case = ET.Element("testcase", classname=f"{_slug(report)}.invariant", name=invariant.name)
        if not invariant.ok:
            ET.SubElement(case, "failure", type="invariant", message=invariant.detail)
        else:
            ET.SubElement(case, "system-out").text = invariant.detail
        cases.append(case)

    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(case.find("failure") is not None for case in cases)))
    suite.set("errors", "0")
    return suite


def junit_xml(suites: list[ET.Element]) -> str:
    root = ET.Element("testsuites")
    root.extend(suites)
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in suites)))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _value_text(value: ProbeValue) -> str:
    return f"no value ({value.error})" if value.error else probe_value(value.value)


def _slug(report: Report) -> str:
    return report.experiment.slug or "experiment"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")

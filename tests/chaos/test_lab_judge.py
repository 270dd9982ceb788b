"""The lab path's judge: a disturbed run passes only when it ends as an undisturbed run of the same seed would."""

from tests.chaos.lab import LabView, judge_lab
from tests.chaos.lab_plan import LabStep, expected_end, lab_plan


def _undisturbed(seed: int) -> tuple[list[LabStep], LabView]:
    plan = lab_plan(seed, 12)
    return plan, LabView([(step.type, step.barcode) for step in plan], expected_end(plan))


def test_a_seed_always_draws_the_same_plan_and_each_specimen_in_order() -> None:
    assert lab_plan(7, 12) == lab_plan(7, 12)
    assert lab_plan(7, 12) != lab_plan(8, 12)
    plan = lab_plan(7, 12)
    for barcode in {step.barcode for step in plan}:
        steps = [step.type for step in plan if step.barcode == barcode]
        assert steps == ["specimen.collected", "specimen.received", "specimen.resulted"][: len(steps)]


def test_the_undisturbed_end_state_passes() -> None:
    plan, view = _undisturbed(7)
    verdict = judge_lab(plan, view)
    assert verdict.ok
    assert verdict.accepted == verdict.stored == len(plan)


def test_an_event_stored_twice_or_not_at_all_fails() -> None:
    plan, view = _undisturbed(7)
    doubled = judge_lab(plan, _with_events(view, view.events + view.events[:1]))
    lost = judge_lab(plan, _with_events(view, view.events[1:]))
    assert (doubled.ok, doubled.duplicates) == (False, 1)
    assert (lost.ok, lost.lost) == (False, 1)


def test_a_specimen_in_another_state_than_the_undisturbed_run_fails() -> None:
    plan, view = _undisturbed(7)
    last = plan[-1]
    behind = "received" if last.type == "specimen.collected" else "collected"
    verdict = judge_lab(plan, LabView(view.events, {**view.statuses, last.barcode: behind}))
    assert not verdict.ok
    assert verdict.regressed == 1


def test_a_refused_or_unanswered_message_fails() -> None:
    plan, view = _undisturbed(7)
    assert not judge_lab(plan, view, refused=1).ok
    assert not judge_lab(plan, view, pending=3).ok


def _with_events(view: LabView, events: list[tuple[str, str]]) -> LabView:
    return LabView(events, view.statuses)

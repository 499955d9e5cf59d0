"""colorlab.exercises: the verdict type every lesson check returns."""

from colorlab.exercises import CheckResult, right, wrong


def test_a_right_answer_is_truthy_and_says_why():
    result = right("matches colorlab.color to 1e-6")
    assert result and result.passed
    assert str(result) == "right: matches colorlab.color to 1e-6"
    assert "&#10004;" in result._repr_html_()


def test_a_wrong_answer_is_falsy_and_escapes_its_message_in_html():
    result = wrong("expected <3 channels>")
    assert not result and isinstance(result, CheckResult)
    assert str(result).startswith("not yet: ")
    assert "&lt;3 channels&gt;" in result._repr_html_()


def test_call_learner_reports_a_missing_function_a_non_function_and_an_error_without_raising():
    from colorlab.exercises.core import call_learner

    assert call_learner(lambda x: x + 1, "f(x)", 1) == (2, None)
    got, verdict = call_learner(None, "my_f(x) returning a number", 1)
    assert got is None and str(verdict) == "not yet: write a function my_f(x) returning a number and pass it here"
    got, verdict = call_learner(42, "my_f(x)", 1)
    assert got is None and "pass the function itself" in str(verdict) and "int" in str(verdict)
    got, verdict = call_learner(lambda x: 1 / 0, "my_f(x)", 1)
    assert got is None and str(verdict) == "not yet: your function raised ZeroDivisionError: division by zero"

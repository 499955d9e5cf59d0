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

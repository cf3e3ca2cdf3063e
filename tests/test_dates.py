"""Code tests of deadline reading (classifier.dates): the same words mean different days on different
arrival dates, and only need-by dates count."""

import pandas as pd
import pytest

from classifier.model import texts_and_deadlines
from classifier.text import normalize
from classifier.text.dates import deadline_days, deadline_marker


@pytest.mark.parametrize(
    ("text", "received_at", "days"),
    [
        ("クリスマスプレゼントなので24日までに届けてほしいです", "2026-12-22T10:00:00+09:00", 2),
        ("クリスマスプレゼントなので24日までに届けてほしいです", "2026-12-10T10:00:00+09:00", 14),
        ("１２／２４必着でお願いします", "2026-12-23T22:00:00+09:00", 1),
        ("12月24日のパーティーで使いたいです", "2026-12-23T10:00:00+09:00", 1),
        ("明後日の誕生日に間に合いますか", "2026-05-01T10:00:00+09:00", 2),
        ("今夜23:59までのクーポンが使えない", "2026-05-01T10:00:00+09:00", 0),
        ("今週末に使いたいのですが", "2026-12-10T10:00:00+09:00", 2),  # a Thursday: Saturday is two days on
        ("来週の金曜日に使いたいです", "2026-12-10T10:00:00+09:00", 8),
        ("母の日に間に合いますか", "2026-05-08T10:00:00+09:00", 2),  # 2026-05-10, the second Sunday of May
        ("大晦日までに欲しい", "2026-12-29T09:00:00+09:00", 2),
        ("30日までに必要です", "2026-11-28T09:00:00+09:00", 2),  # the end of this month, not the next
        ("父の日に渡したい", "2026-06-19T09:00:00+09:00", 2),  # 2026-06-21, the third Sunday of June
        ("昨日の誕生日に間に合わなかった", "2026-05-08T10:00:00+09:00", -1),
        # 15:30 UTC is 00:30 the next day in Japan: the deadline is that day.
        ("3月7日までに必要です", "2026-03-06T15:30:00+00:00", 0),
        ("1月3日までに必要です", "2026-12-30T10:00:00+09:00", 4),  # across the new year
    ],
)
def test_need_by_dates_are_counted_from_the_arrival_day(text, received_at, days):
    assert deadline_days(normalize(text), received_at) == days


@pytest.mark.parametrize(
    "text",
    [
        "10日に注文しましたがまだ届きません",  # the order date, not a deadline
        "12月3日に発送されたはずです。まだ受け取っていません",
        "ライブで使いたいです",  # イブ inside another word is no Christmas Eve
        "3日間使ってみましたが動きません",  # a duration
        "先週問い合わせた件です",
    ],
)
def test_dates_that_are_not_deadlines_are_ignored(text):
    assert deadline_days(normalize(text), "2026-12-20T10:00:00+09:00") is None


def test_an_unreadable_arrival_gives_no_deadline():
    assert deadline_days("明日までに必要です", "not a date") is None
    assert deadline_marker("明日までに必要です", "") == ""


@pytest.mark.parametrize(
    ("received_at", "marker"),
    [
        ("2026-12-22T10:00:00+09:00", "DUENEAR"),
        ("2026-12-01T10:00:00+09:00", "DUELATER"),
        ("2026-12-26T10:00:00+09:00", "DUEPAST"),
    ],
)
def test_the_marker_depends_on_the_day_the_mail_arrived(received_at, marker):
    assert deadline_marker(normalize("24日までに必要です"), received_at) == marker


def test_preprocessing_reports_the_marker_beside_the_masked_text():
    frame = pd.DataFrame(
        {
            "subject": ["至急"],
            "body": ["24日までに必要です。090-1234-5678"],
            "received_at": ["2026-12-23T10:00:00+09:00"],
        }
    )
    (text,), (marker,) = texts_and_deadlines(frame)
    assert marker == "DUENEAR" and "<PHONE>" in text and "DUE" not in text
    assert texts_and_deadlines(frame.drop(columns="received_at")) == ([text], [""])

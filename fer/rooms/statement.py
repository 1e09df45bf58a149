"""What the client reads before consenting in a session room, in plain language.

The consent statement is stored with the client's consent, word for word, so it names what
happens to the data as the clinic has configured it (how long recordings are kept).
"""

from __future__ import annotations


def retention_sentence(retention_days: int | None) -> str:
    if retention_days is None:
        return (
            "Recorded results are kept until your clinician deletes them or you withdraw "
            "your consent."
        )
    return (
        f"Recorded results are deleted after {retention_days} days at the latest, earlier if "
        "your clinician deletes them or you withdraw your consent."
    )


def explanation(retention_days: int | None) -> list[str]:
    """Paragraphs for the join page: what is analysed, what is stored, for how long."""
    return [
        "**What is analysed.** While your camera is on, the picture is sent to your clinic's "
        "server. A program there estimates facial expressions (for example happy, sad, "
        "surprised) and facial movements from it. Your clinician sees these estimates during "
        "the session. They support your clinician's attention; they are not a diagnosis and "
        "the program makes no decisions about you.",
        "**What is stored.** The video itself is not stored. If your clinician records the "
        "session, the estimates are stored with the time of each picture, the position and "
        "outline of your face in it, and the notes your clinician marks. Nothing is analysed "
        "before you agree below.",
        f"**For how long.** {retention_sentence(retention_days)}",
        "**Your choices.** You can pause or turn off your camera, end the session and "
        "withdraw your consent on this page at any time. Withdrawing deletes what was "
        "recorded under it. Your clinician cannot turn your camera on.",
    ]


def consent_statement(retention_days: int | None) -> str:
    """The statement stored with the client's consent."""
    return (
        "I agree that the picture of my camera is analysed by this software during this remote "
        "session and that the results may be recorded for my clinician. "
        f"{retention_sentence(retention_days)} I can withdraw this consent at any time; doing "
        "so deletes what was recorded under it."
    )

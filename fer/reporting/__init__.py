"""The session report for the record: content, charts, and its HTML, PDF and FHIR forms.

``content`` (what a report says, gathered from the session store and the model's files),
``charts`` (the figures as PNG and SVG, drawn with matplotlib so that no browser is needed),
``html`` (one self-contained file), ``pdf``, ``fhir`` (an R4 Bundle with the PDF inside),
``document`` (a stored session's report in one of those forms: the app's, the command line's
and the REST API's).
"""

REPORT_FORMATS = ("html", "pdf", "fhir")

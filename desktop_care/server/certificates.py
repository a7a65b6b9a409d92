"""A course certificate as a PDF (fpdf2; the core fonts, so text is Latin-1)."""

from __future__ import annotations

from desktop_care.models.courses import Certificate


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def certificate_pdf(certificate: Certificate, *, name: str, organisation: str, verify_url: str) -> bytes:
    """One landscape A4 page: who completed which course, when, and the code with the
    address where anyone can check it."""
    registration = certificate.registration
    course_session = registration.session
    course = course_session.course
    from fpdf import FPDF  # on first use: fpdf2 costs half a second of every server's start

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_title(_latin1(f"Certificate {certificate.code}"))
    pdf.set_author(_latin1(organisation))
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_draw_color(31, 95, 168)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_y(34)
    pdf.set_font("Helvetica", "B", 30)
    pdf.set_text_color(31, 41, 51)
    pdf.cell(0, 14, "Certificate of completion", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 8, "This certifies that", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 24)
    pdf.cell(0, 12, _latin1(name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 8, "completed the course", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 11, _latin1(f"{course.title} ({course.code})"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 13)
    when = f"{course_session.starts_at:%d %B %Y}"
    pdf.cell(0, 8, _latin1(f"{when} · {course_session.where}").replace("·", "-"), align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(pdf.h - 58)
    pdf.set_font("Helvetica", "", 12)
    pdf.cell(0, 7, _latin1(f"Issued {certificate.issued_at:%d %B %Y} by {organisation}"), align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "B", 16)
    pdf.cell(0, 9, f"Certificate code: {certificate.code}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(97, 110, 124)
    pdf.cell(0, 6, _latin1(f"Check it at {verify_url}"), align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

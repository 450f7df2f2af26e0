"""The receiver: SMTP submission and MX with aiosmtpd, answering each step from one table,
and committing accepted mail to the inbound queue before its 250.
"""

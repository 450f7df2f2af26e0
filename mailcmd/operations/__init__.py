"""What the operator runs beside the loop: logs and traces, metrics and health, alerts,
retention, the mail-client settings (autoconfig), demo mode and the deployment units.
"""

"""Serving core of IndexTTS Node: request models, audio sources, the job queue and the front doors.

Empty until the serving issue; it imports `indextts`, never the other way round.
"""

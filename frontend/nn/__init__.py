"""llgrad.nn"""

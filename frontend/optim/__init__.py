"""llgrad.optim"""

"""actors/contracts"""

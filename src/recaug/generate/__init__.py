"""recaug.generate"""

"""recaug.quality"""

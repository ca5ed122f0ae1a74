"""recaug.evaluate"""

"""recaug.report"""

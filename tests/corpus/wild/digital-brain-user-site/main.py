print("digital brain")

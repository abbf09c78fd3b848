print("dogdoor")

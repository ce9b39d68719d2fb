"""Page scripts run by ``st.navigation``; each renders one page and holds no logic."""

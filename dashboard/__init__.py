"""The TokenTrail dashboard (Streamlit + Plotly): ``streamlit run dashboard/app.py``."""

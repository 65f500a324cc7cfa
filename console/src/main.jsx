import { render } from "preact";
import "./styles.css";
import "./theme.js";
import { App } from "./app.jsx";

const root = document.getElementById("app");
root.textContent = "";
render(<App />, root);

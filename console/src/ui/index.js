export { Button, ErrorBanner, Field, Loading, Notice, Spinner } from "./basics.jsx";
export { Modal, Toast, Toasts, toast } from "./overlays.jsx";
export { Sparkline } from "./sparkline.jsx";
export { Table } from "./table.jsx";
export { TabPanel, Tabs } from "./tabs.jsx";
